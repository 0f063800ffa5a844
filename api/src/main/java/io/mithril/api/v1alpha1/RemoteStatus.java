package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** This cache's use of the remote tier, as the node agents report it, summed over nodes since their stores were made. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RemoteStatus {

    @JsonPropertyDescription("Entries fetched from the remote tier for pods' starts (remote hits).")
    private Long hits;

    @JsonPropertyDescription("Bytes fetched from the remote tier for pods' starts and pre-warm.")
    private Long fetchedBytes;

    @JsonPropertyDescription("Entries uploaded to the remote tier.")
    private Long uploadedEntries;

    @JsonPropertyDescription("Bytes uploaded to the remote tier (blobs and packs the bucket did not hold yet).")
    private Long uploadedBytes;

    @JsonPropertyDescription("spec.remote.budget as given, carried for the remote tier's retention.")
    private String budget;

    @JsonPropertyDescription("Whole entries this cache holds in the remote tier (every device class), as of storedAt.")
    private Long storedEntries;

    @JsonPropertyDescription("Bytes of those entries' distinct files in the remote tier, as of storedAt.")
    private Long storedBytes;

    @JsonPropertyDescription(
            "When the remote retention pass that measured storedEntries and storedBytes ran (ISO-8601 UTC).")
    private String storedAt;

    public Long getStoredEntries() {
        return storedEntries;
    }

    public void setStoredEntries(Long storedEntries) {
        this.storedEntries = storedEntries;
    }

    public Long getStoredBytes() {
        return storedBytes;
    }

    public void setStoredBytes(Long storedBytes) {
        this.storedBytes = storedBytes;
    }

    public String getStoredAt() {
        return storedAt;
    }

    public void setStoredAt(String storedAt) {
        this.storedAt = storedAt;
    }

    public Long getHits() {
        return hits;
    }

    public void setHits(Long hits) {
        this.hits = hits;
    }

    public Long getFetchedBytes() {
        return fetchedBytes;
    }

    public void setFetchedBytes(Long fetchedBytes) {
        this.fetchedBytes = fetchedBytes;
    }

    public Long getUploadedEntries() {
        return uploadedEntries;
    }

    public void setUploadedEntries(Long uploadedEntries) {
        this.uploadedEntries = uploadedEntries;
    }

    public Long getUploadedBytes() {
        return uploadedBytes;
    }

    public void setUploadedBytes(Long uploadedBytes) {
        this.uploadedBytes = uploadedBytes;
    }

    public String getBudget() {
        return budget;
    }

    public void setBudget(String budget) {
        this.budget = budget;
    }
}
