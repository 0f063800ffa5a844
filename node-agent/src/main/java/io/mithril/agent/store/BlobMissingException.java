package io.mithril.agent.store;

import java.io.IOException;

/**
 * A commit named a blob that is not in the store (never put, or evicted by another process between
 * the put and the commit). Nothing was committed; put the files again and retry.
 */
public final class BlobMissingException extends IOException {
    public BlobMissingException(String message) {
        super(message);
    }
}
