package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.EntryKey;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code verify} found. {@link #clean()} is false when any blob's bytes did not match its
 * address (it was quarantined and the entries using it dropped) or a committed entry had lost a blob.
 * {@code repaired}: blobs whose bytes were right but whose mode or owner was not, sealed again (0444,
 * the store's user); they leave the report clean, since nothing wrong was or will be served.
 */
public record VerifyReport(
        long blobsChecked,
        long bytesChecked,
        List<Address> corrupt,
        List<EntryKey> droppedEntries,
        List<Path> stray,
        int orphansRemoved,
        List<Address> repaired) {

    public boolean clean() {
        return corrupt.isEmpty() && droppedEntries.isEmpty();
    }
}
