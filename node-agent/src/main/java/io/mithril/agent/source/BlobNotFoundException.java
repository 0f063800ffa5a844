package io.mithril.agent.source;

import io.mithril.agent.cas.Address;
import java.io.FileNotFoundException;

/** A source does not hold the blob asked for. */
public final class BlobNotFoundException extends FileNotFoundException {
    public BlobNotFoundException(Address address, String source) {
        super("no blob " + address.hex() + " in " + source);
    }
}
