package io.mithril.operator.webhook;

import java.util.Locale;

/**
 * What the webhook does where Pod Security admission would reject the hostPath of HostPath mode.
 * The level of a namespace is its {@code pod-security.kubernetes.io/enforce} label, else
 * {@code defaultLevel} (the cluster's PodSecurity admission default: {@code privileged} unless the
 * API server's admission configuration says otherwise). Under {@code baseline} or {@code restricted}
 * a hostPath volume is forbidden, so such a pod gets {@code fallback}: the EmptyDir mode (no hostPath;
 * the agent must mount kubelet's pod folder, which the chart does whenever the fallback is EmptyDir)
 * or no injection at all, with a warning. The injected wait step meets the restricted profile either way.
 */
public record PodSecurity(String defaultLevel, Fallback fallback) {

    public static final String ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";

    public enum Fallback {
        EmptyDir,
        Skip
    }

    public PodSecurity {
        defaultLevel = level(defaultLevel);
    }

    public static PodSecurity defaults() {
        return new PodSecurity("privileged", Fallback.EmptyDir);
    }

    /** A level as Pod Security admission reads it; anything unknown counts as restricted (the strictest). */
    static String level(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "privileged", "baseline", "restricted" -> v;
            default -> "restricted";
        };
    }

    /** Whether a namespace labelled {@code enforce} (null: unlabelled) admits hostPath volumes. */
    boolean admitsHostPath(String enforce) {
        return "privileged".equals(enforce == null ? defaultLevel : level(enforce));
    }
}
