package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * The CRD schema of one entry of {@code status.conditions} (the field itself is fabric8's
 * {@code Condition}, the Kubernetes condition shape): the same fields, with descriptions for
 * {@code kubectl explain}. Only a schema.
 */
final class ConditionSchema {

    @JsonPropertyDescription("Which condition: Ready, or one of those it is made of.")
    public String type;

    @JsonPropertyDescription("True, False or Unknown.")
    public String status;

    @JsonPropertyDescription("Why, as one CamelCase word.")
    public String reason;

    @JsonPropertyDescription("Why, for people.")
    public String message;

    @JsonPropertyDescription("When the status last changed (RFC 3339).")
    public String lastTransitionTime;

    @JsonPropertyDescription("The metadata.generation the condition was set for.")
    public Long observedGeneration;
}
