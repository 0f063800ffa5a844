package io.mithril.agent.volume;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;

/**
 * Where an entry's file lies relative to a view: a folder entry ({@code fxgraph/ab/<key>/}) holds
 * its files below its name, a one-file entry is its name. The one place that says so.
 */
public final class EntryPaths {

    private EntryPaths() {}

    /** The view-relative path of file {@code path} of the entry named {@code entryName}. */
    public static String of(String entryName, String path) {
        return entryName.endsWith("/") ? entryName + path : entryName;
    }

    public static String of(Entry e, EntryFile f) {
        return of(e.key().name(), f.path());
    }
}
