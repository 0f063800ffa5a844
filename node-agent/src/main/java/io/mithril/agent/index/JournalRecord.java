package io.mithril.agent.index;

import java.util.List;

/** One record of the index journal. */
public sealed interface JournalRecord {

    /** An entry was committed (or replaced); its blobs were durable before this was written. */
    record Commit(EntryKey key, long created, long lastUse, List<EntryFile> files, String provenance)
            implements JournalRecord {
        public Entry toEntry() {
            return new Entry(key, files, created, lastUse, provenance);
        }

        public static Commit of(Entry e) {
            return new Commit(e.key(), e.created(), e.lastUse(), e.files(), e.provenance());
        }
    }

    /** An entry left the index. */
    record Remove(EntryKey key, EvictionCause cause) implements JournalRecord {}

    /** An entry was used. Written in batches without fsync: a lost touch only ages an entry. */
    record Touch(EntryKey key, long time) implements JournalRecord {}
}
