package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** What the operator observed, aggregated from the node agents. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CompileCacheStatus {

    @JsonPropertyDescription("The metadata.generation this status describes.")
    private Long observedGeneration;

    @JsonPropertyDescription(
            "Ready and the conditions it is made of (AgentsReporting, WithinBudget), with CamelCase reasons.")
    private List<Condition> conditions;

    @JsonPropertyDescription("Nodes whose agent holds entries of this cache.")
    private Integer nodes;

    @JsonPropertyDescription("Bytes of this cache's entries, summed over nodes.")
    private Long usedBytes;

    @JsonPropertyDescription("usedBytes for people, e.g. 14.2Gi.")
    private String used;

    @JsonPropertyDescription("Entries of this cache, summed over nodes.")
    private Long entries;

    @JsonPropertyDescription(
            "Entries read by pods (hits) over hits plus entries compiled and ingested (misses), e.g. 87%.")
    private String hitRatio;

    @JsonPropertyDescription("When a pod last read an entry of this cache (RFC 3339).")
    private String lastUsed;

    @JsonPropertyDescription("Device classes with entries, e.g. cuda-9.0/nvidia-h100-80gb-hbm3.")
    private List<String> deviceClasses;

    @JsonPropertyDescription(
            "Pods by how their start went for the cache (warm, or why not), summed over nodes since the agents' stores were made.")
    private PodStarts podStarts;

    @JsonPropertyDescription(
            "The remote tier: entries pods' starts fetched from it (remote hits), entries and bytes uploaded, summed over nodes.")
    private RemoteStatus remote;

    public RemoteStatus getRemote() {
        return remote;
    }

    public void setRemote(RemoteStatus remote) {
        this.remote = remote;
    }

    public PodStarts getPodStarts() {
        return podStarts;
    }

    public void setPodStarts(PodStarts podStarts) {
        this.podStarts = podStarts;
    }

    public Long getObservedGeneration() {
        return observedGeneration;
    }

    public void setObservedGeneration(Long observedGeneration) {
        this.observedGeneration = observedGeneration;
    }

    public List<Condition> getConditions() {
        return conditions;
    }

    public void setConditions(List<Condition> conditions) {
        this.conditions = conditions;
    }

    public Integer getNodes() {
        return nodes;
    }

    public void setNodes(Integer nodes) {
        this.nodes = nodes;
    }

    public Long getUsedBytes() {
        return usedBytes;
    }

    public void setUsedBytes(Long usedBytes) {
        this.usedBytes = usedBytes;
    }

    public String getUsed() {
        return used;
    }

    public void setUsed(String used) {
        this.used = used;
    }

    public Long getEntries() {
        return entries;
    }

    public void setEntries(Long entries) {
        this.entries = entries;
    }

    public String getHitRatio() {
        return hitRatio;
    }

    public void setHitRatio(String hitRatio) {
        this.hitRatio = hitRatio;
    }

    public String getLastUsed() {
        return lastUsed;
    }

    public void setLastUsed(String lastUsed) {
        this.lastUsed = lastUsed;
    }

    public List<String> getDeviceClasses() {
        return deviceClasses;
    }

    public void setDeviceClasses(List<String> deviceClasses) {
        this.deviceClasses = deviceClasses;
    }
}
