package io.mithril.agent.diagnosis;

import java.util.Locale;

/**
 * How one workload's run went for the cache, as a user asks it: was it warm, and if not, why not.
 * The order is the order a diagnosis checks them in.
 */
public enum Outcome {
    /** The view could not be published (a refusal, a full disk): the run started with empty folders. */
    NO_VIEW("no view", "the view could not be published"),
    /** Nothing was published: the group is empty here, or was filled for another device class or product. */
    NOTHING_PUBLISHED("nothing published", "nothing was published for this group"),
    /** Entries were published but the workload read none and compiled new ones: the framework's key changed. */
    KEY_CHANGED("key changed", "published entries were not read: the framework's key changed"),
    /** The workload read entries and then compiled more (new shapes, a changed graph, a rewritten index). */
    RECOMPILED("recompiled", "read published entries, then compiled new ones"),
    /** Entries were published; the workload read none and compiled nothing. */
    UNUSED("unused", "read nothing and compiled nothing"),
    /** Read published entries and compiled nothing. */
    WARM("warm", "warm");

    private final String label;
    private final String meaning;

    Outcome(String label, String meaning) {
        this.label = label;
        this.meaning = meaning;
    }

    /** Short words for a summary line. */
    public String label() {
        return label;
    }

    public String meaning() {
        return meaning;
    }

    /** The camelCase name used in JSON, the CompileCache status and metric labels. */
    public String key() {
        String[] parts = name().toLowerCase(Locale.ROOT).split("_");
        StringBuilder b = new StringBuilder(parts[0]);
        for (int i = 1; i < parts.length; i++) {
            b.append(Character.toUpperCase(parts[i].charAt(0))).append(parts[i].substring(1));
        }
        return b.toString();
    }

    /** The outcome of a {@link #key()}, or null. */
    public static Outcome ofKey(String key) {
        for (Outcome o : values()) {
            if (o.key().equals(key)) {
                return o;
            }
        }
        return null;
    }

    /** Whether the run compiled cold, for all or part of what it needed. */
    public boolean cold() {
        return this != WARM && this != UNUSED;
    }
}
