package io.mithril.agent.index;

import java.util.List;

/**
 * A committed entry: the unit of ingest, use and eviction. Files are immutable once committed; a
 * new commit under the same key replaces the entry as a whole (a new version). Only
 * {@link #lastUse} changes in place, and only under the index's lock.
 */
public final class Entry {
    private final EntryKey key;
    private final List<EntryFile> files;
    private final long bytes;
    private final long created;
    private final String provenance;
    long lastUse;

    public Entry(EntryKey key, List<EntryFile> files, long created, long lastUse, String provenance) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("an entry needs at least one file: " + key);
        }
        this.key = key;
        this.files = List.copyOf(files);
        long b = 0;
        for (EntryFile f : this.files) {
            b += f.size();
        }
        this.bytes = b;
        this.created = created;
        this.lastUse = lastUse;
        this.provenance = provenance == null ? "" : provenance;
    }

    public EntryKey key() {
        return key;
    }

    public List<EntryFile> files() {
        return files;
    }

    /** Logical size: the sum of its files, whether or not their blobs are shared. */
    public long bytes() {
        return bytes;
    }

    public long created() {
        return created;
    }

    public long lastUse() {
        return lastUse;
    }

    /** Where it came from (group, source, time), recorded at ingest. */
    public String provenance() {
        return provenance;
    }

    @Override
    public String toString() {
        return key + " (" + files.size() + " files, " + bytes + " B)";
    }
}
