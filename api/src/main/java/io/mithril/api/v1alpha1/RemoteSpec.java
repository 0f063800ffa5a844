package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;

/** How a CompileCache uses the remote tier (the bucket the node agents are given; none: nothing of this applies). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RemoteSpec {

    @JsonPropertyDescription(
            "Whether this cache's entries go to the remote tier and pods' starts fill from it. Only effective "
                    + "when the node agents have a remote (the chart's remote.bucket). Default: true.")
    @Default("true")
    private Boolean enabled;

    @JsonPropertyDescription(
            "Whether an agent that starts (a node joins, an upgrade) fetches this cache's entries of its device "
                    + "class and GPU product in the background, under the agent's pre-warm byte budget, so the first pod is warm. "
                    + "Default: false.")
    @Default("false")
    private Boolean prewarm;

    @JsonPropertyDescription(
            "How much this cache may hold in the remote tier, as a Kubernetes quantity (e.g. 200Gi). None: "
                    + "no limit of its own.")
    @Pattern(
            "^(0*[1-9][0-9]*(\\.[0-9]+)?|([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]+\\.[0-9]*[1-9][0-9]*)(Ki|Mi|Gi|Ti|K|M|G|T))$")
    private String budget;

    @JsonPropertyDescription("How long a pod's start may wait for entries fetched from the remote before its view is "
            + "published with whatever is whole by then (the rest is fetched in the background for the next pod). Must be "
            + "below publishTimeoutSeconds. Default: " + Defaults.REMOTE_FETCH_DEADLINE_SECONDS + ".")
    @Min(1)
    @Max(599)
    @Default("" + Defaults.REMOTE_FETCH_DEADLINE_SECONDS)
    private Integer fetchDeadlineSeconds;

    public Boolean getEnabled() {
        return enabled;
    }

    public void setEnabled(Boolean enabled) {
        this.enabled = enabled;
    }

    public Boolean getPrewarm() {
        return prewarm;
    }

    public void setPrewarm(Boolean prewarm) {
        this.prewarm = prewarm;
    }

    public String getBudget() {
        return budget;
    }

    public void setBudget(String budget) {
        this.budget = budget;
    }

    public Integer getFetchDeadlineSeconds() {
        return fetchDeadlineSeconds;
    }

    public void setFetchDeadlineSeconds(Integer fetchDeadlineSeconds) {
        this.fetchDeadlineSeconds = fetchDeadlineSeconds;
    }

    /** Whether {@code spec} (null: none) uses the remote: true unless it says {@code enabled: false}. */
    public static boolean enabled(CompileCacheSpec spec) {
        return spec == null
                || spec.getRemote() == null
                || !Boolean.FALSE.equals(spec.getRemote().getEnabled());
    }

    /** Whether {@code spec} asks for pre-warm. */
    public static boolean prewarm(CompileCacheSpec spec) {
        return spec != null
                && spec.getRemote() != null
                && Boolean.TRUE.equals(spec.getRemote().getPrewarm())
                && enabled(spec);
    }

    /** The fetch deadline of {@code spec} in seconds, the default where it says none. */
    public static int fetchDeadlineSeconds(CompileCacheSpec spec) {
        Integer s = spec == null || spec.getRemote() == null
                ? null
                : spec.getRemote().getFetchDeadlineSeconds();
        return s != null ? s : Defaults.REMOTE_FETCH_DEADLINE_SECONDS;
    }
}
