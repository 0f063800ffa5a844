package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.Names;

/** One file of an entry: its path relative to the entry, the blob holding its bytes, its size. */
public record EntryFile(String path, Address address, long size, boolean executable) {
    public EntryFile {
        Names.checkRelativePath("file path", path, false);
        if (size < 0) {
            throw new IllegalArgumentException("negative size");
        }
    }
}
