package io.mithril.agent.key;

/** A name, address or path from outside that cannot be used; the message says why. */
public final class InvalidNameException extends IllegalArgumentException {
    public InvalidNameException(String message) {
        super(message);
    }
}
