package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.Map;
import java.util.TreeMap;

/**
 * Pods of a CompileCache by how their start went for the cache, as the node agents counted them
 * (each pod's Event says the same for that pod). The property names are the agent's outcome keys.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PodStarts {

    @JsonPropertyDescription("Read published entries and compiled nothing.")
    private Long warm;

    @JsonPropertyDescription(
            "Read published entries, then compiled new ones (new shapes or graphs, a rewritten index).")
    private Long recompiled;

    @JsonPropertyDescription(
            "Nothing was published: the cache was empty on the node, or held entries for other device classes or GPU products only.")
    private Long nothingPublished;

    @JsonPropertyDescription(
            "Entries were published but none was read and new ones were compiled: the framework's key changed (the pod's Event names what changed).")
    private Long keyChanged;

    @JsonPropertyDescription("Entries were published; the pod read none and compiled nothing into the cache folders.")
    private Long unused;

    @JsonPropertyDescription(
            "No view was published (its wait step gave up first, or publishing failed): the pod started with empty folders.")
    private Long noView;

    /** From outcome key to count; unknown keys are ignored, zero counts left out. */
    public static PodStarts of(Map<String, Long> counts) {
        PodStarts p = new PodStarts();
        counts.forEach((k, n) -> p.set(k, n));
        return p;
    }

    /** The counts by outcome key, those present. */
    public Map<String, Long> counts() {
        Map<String, Long> out = new TreeMap<>();
        put(out, "warm", warm);
        put(out, "recompiled", recompiled);
        put(out, "nothingPublished", nothingPublished);
        put(out, "keyChanged", keyChanged);
        put(out, "unused", unused);
        put(out, "noView", noView);
        return out;
    }

    private static void put(Map<String, Long> out, String k, Long v) {
        if (v != null) {
            out.put(k, v);
        }
    }

    /** Sets one count by its outcome key; false for a key this version does not know. */
    public boolean set(String key, Long n) {
        Long v = n == null || n == 0 ? null : n;
        switch (key) {
            case "warm" -> warm = v;
            case "recompiled" -> recompiled = v;
            case "nothingPublished" -> nothingPublished = v;
            case "keyChanged" -> keyChanged = v;
            case "unused" -> unused = v;
            case "noView" -> noView = v;
            default -> {
                return false;
            }
        }
        return true;
    }

    public Long getWarm() {
        return warm;
    }

    public void setWarm(Long warm) {
        this.warm = warm;
    }

    public Long getRecompiled() {
        return recompiled;
    }

    public void setRecompiled(Long recompiled) {
        this.recompiled = recompiled;
    }

    public Long getNothingPublished() {
        return nothingPublished;
    }

    public void setNothingPublished(Long nothingPublished) {
        this.nothingPublished = nothingPublished;
    }

    public Long getKeyChanged() {
        return keyChanged;
    }

    public void setKeyChanged(Long keyChanged) {
        this.keyChanged = keyChanged;
    }

    public Long getUnused() {
        return unused;
    }

    public void setUnused(Long unused) {
        this.unused = unused;
    }

    public Long getNoView() {
        return noView;
    }

    public void setNoView(Long noView) {
        this.noView = noView;
    }
}
