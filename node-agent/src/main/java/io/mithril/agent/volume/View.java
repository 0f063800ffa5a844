package io.mithril.agent.volume;

import io.mithril.agent.cas.Address;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.Pin;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A published view: a group's entries materialized into a directory for one workload. Holds what was
 * published (to tell new and changed files from published ones at ingest) and the pin that keeps
 * those entries from eviction while the view lives.
 */
public final class View {

    /**
     * One file of the view as Mithril last knew it: its entry and blob, and the file's identity right
     * after publishing or ingesting it. {@code ingested}: the workload wrote it (ingest read it to hash
     * it, so its atime says nothing about use).
     */
    public record Published(
            EntryKey entry,
            Address address,
            long size,
            boolean executable,
            boolean linked,
            Object fileKey,
            long mtimeMillis,
            boolean ingested) {}

    private final Path dir;
    private final GroupId group;
    private final Set<Framework> frameworks;
    private final long publishedAtMillis;
    private final PublishMode mode;
    private final Map<String, Published> files = new ConcurrentHashMap<>();
    private final Map<String, Published> readOnlyFiles = Collections.unmodifiableMap(files);
    private final List<EntryKey> entries;
    private final long bytes;
    private final long publishNanos;
    private final Pin pin;
    private final Integer workloadUid;

    View(
            Path dir,
            GroupId group,
            Set<Framework> frameworks,
            long publishedAtMillis,
            PublishMode mode,
            Map<String, Published> files,
            List<EntryKey> entries,
            long bytes,
            long publishNanos,
            Pin pin,
            Integer workloadUid) {
        this.dir = dir;
        this.group = group;
        this.frameworks = Set.copyOf(frameworks);
        this.publishedAtMillis = publishedAtMillis;
        this.mode = mode;
        this.files.putAll(files);
        this.entries = List.copyOf(entries);
        this.bytes = bytes;
        this.publishNanos = publishNanos;
        this.pin = pin;
        this.workloadUid = workloadUid;
    }

    /**
     * The user the workload runs as, when known: ingest takes only files owned by it. Null when the
     * workload's user is not known (a container image's own USER).
     */
    public Integer workloadUid() {
        return workloadUid;
    }

    public Path dir() {
        return dir;
    }

    public Path frameworkDir(Framework f) {
        return dir.resolve(f.dir());
    }

    public GroupId group() {
        return group;
    }

    public Set<Framework> frameworks() {
        return frameworks;
    }

    public long publishedAtMillis() {
        return publishedAtMillis;
    }

    public PublishMode mode() {
        return mode;
    }

    /** View-relative path to what was published there (updated as ingest takes new versions); read-only. */
    public Map<String, Published> files() {
        return readOnlyFiles;
    }

    /** Lookup of what the view holds at {@code rel} as Mithril last knew it, or null. */
    public Published file(String rel) {
        return files.get(rel);
    }

    /**
     * Records that ingest committed the workload's file at {@code rel} as file {@code f} of entry
     * {@code entry}: from now on it is the view's published state there (an unchanged file is not
     * taken again, and its atime, moved by ingest's own read, says nothing about use).
     */
    public void ingested(String rel, EntryKey entry, EntryFile f, Object fileKey, long mtimeMillis) {
        files.put(rel, new Published(entry, f.address(), f.size(), f.executable(), false, fileKey, mtimeMillis, true));
    }

    /** The entries published (and pinned). */
    public List<EntryKey> entries() {
        return entries;
    }

    public long bytes() {
        return bytes;
    }

    public long publishNanos() {
        return publishNanos;
    }

    Pin pin() {
        return pin;
    }
}
