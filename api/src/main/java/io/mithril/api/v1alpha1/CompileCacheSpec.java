package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.List;

/** What a CompileCache asks of Mithril. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
        value = "self.containers != 'Named' || (has(self.containerNames) && size(self.containerNames) > 0)",
        message = "containers: Named needs at least one entry in containerNames")
@ValidationRule(
        value = "!has(self.containerNames) || self.containers == 'Named'",
        message = "containerNames is only used with containers: Named")
@ValidationRule(
        value = "!has(self.remote) || !has(self.remote.fetchDeadlineSeconds) "
                + "|| self.remote.fetchDeadlineSeconds < (has(self.publishTimeoutSeconds) ? self.publishTimeoutSeconds : "
                + Defaults.PUBLISH_TIMEOUT_SECONDS + ")",
        message = "remote.fetchDeadlineSeconds must be below publishTimeoutSeconds")
public class CompileCacheSpec {

    @JsonPropertyDescription(
            "Compile caches to redirect into the node-local view: Inductor, Triton, VLLM, SGLang, FlashInfer, "
                    + "CudaJIT. VLLM and SGLang bring Inductor and Triton with them (their own kernels and torch.compile write there). "
                    + "Only these caches' environment variables are set, never any other (vLLM hashes its VLLM_* variables into its keys). "
                    + "Default: Inductor and Triton, what plain torch.compile needs.")
    @Default(Defaults.FRAMEWORKS_JSON)
    @Size(max = 6)
    @ValidationRule(value = "self.all(f, self.exists_one(g, g == f))", message = "frameworks must not repeat: a set")
    private List<Framework> frameworks;

    @JsonPropertyDescription(
            "How much this cache may hold on each node, as a Kubernetes quantity (e.g. 20Gi). Least recently "
                    + "used entries are evicted beyond it; the node agent's own budget applies as well. Default: "
                    + Defaults.BUDGET + ".")
    // more than zero: without a unit at least one byte, with one a non-zero digit (the operator and the
    // webhook also refuse what is below one byte, e.g. 0.0001K)
    @Pattern(
            "^(0*[1-9][0-9]*(\\.[0-9]+)?|([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]+\\.[0-9]*[1-9][0-9]*)(Ki|Mi|Gi|Ti|K|M|G|T))$")
    @Default(Defaults.BUDGET)
    private String budget;

    @JsonPropertyDescription("Pods that take part, in addition to carrying the annotation mithril.io/cache: enabled. "
            + "Empty: every annotated pod of the namespace.")
    @SchemaFrom(type = PodSelectorSchema.class)
    private LabelSelector podSelector;

    @JsonPropertyDescription(
            "Which containers of a pod get the cache: GpuContainers (those requesting nvidia.com/gpu, or all "
                    + "if none does), AllContainers, or Named (those in containerNames). Default: GpuContainers.")
    @Default("GpuContainers")
    private ContainerScope containers;

    @JsonPropertyDescription("Container names, with containers: Named.")
    private List<String> containerNames;

    @JsonPropertyDescription(
            "How long a pod's init step waits for the node agent to publish its view before starting cold "
                    + "(fail-open), in seconds. Default: " + Defaults.PUBLISH_TIMEOUT_SECONDS + ".")
    @Min(1)
    @Max(600)
    @Default("" + Defaults.PUBLISH_TIMEOUT_SECONDS)
    private Integer publishTimeoutSeconds;

    @JsonPropertyDescription(
            "What happens to this cache's entries on the nodes when the CompileCache is deleted: Retain "
                    + "(they age out under LRU; a new CompileCache of the same name finds them) or Delete. Default: Retain.")
    @Default("Retain")
    private DeletionPolicy deletionPolicy;

    @JsonPropertyDescription(
            "How this cache uses the remote tier (S3-compatible storage shared by the nodes of a device "
                    + "class), when the node agents have one: enabled, pre-warm, a remote budget, the fetch deadline of a pod's start.")
    private RemoteSpec remote;

    public List<Framework> getFrameworks() {
        return frameworks;
    }

    public void setFrameworks(List<Framework> frameworks) {
        this.frameworks = frameworks;
    }

    public String getBudget() {
        return budget;
    }

    public void setBudget(String budget) {
        this.budget = budget;
    }

    public LabelSelector getPodSelector() {
        return podSelector;
    }

    public void setPodSelector(LabelSelector podSelector) {
        this.podSelector = podSelector;
    }

    public ContainerScope getContainers() {
        return containers;
    }

    public void setContainers(ContainerScope containers) {
        this.containers = containers;
    }

    public List<String> getContainerNames() {
        return containerNames;
    }

    public void setContainerNames(List<String> containerNames) {
        this.containerNames = containerNames;
    }

    public Integer getPublishTimeoutSeconds() {
        return publishTimeoutSeconds;
    }

    public void setPublishTimeoutSeconds(Integer publishTimeoutSeconds) {
        this.publishTimeoutSeconds = publishTimeoutSeconds;
    }

    public DeletionPolicy getDeletionPolicy() {
        return deletionPolicy;
    }

    public void setDeletionPolicy(DeletionPolicy deletionPolicy) {
        this.deletionPolicy = deletionPolicy;
    }

    public RemoteSpec getRemote() {
        return remote;
    }

    public void setRemote(RemoteSpec remote) {
        this.remote = remote;
    }
}
