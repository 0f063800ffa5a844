package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;
import java.util.Map;

/**
 * The CRD schema of {@code spec.podSelector} (a Kubernetes label selector; the field itself is fabric8's
 * {@code LabelSelector}): the same shape, with the operators the webhook understands as an enum and CEL
 * for their values, so the API server refuses what the operator would mark InvalidSpec. Only a schema.
 */
final class PodSelectorSchema {

    @JsonPropertyDescription("Labels the pod must carry, each with this value.")
    public Map<String, String> matchLabels;

    @JsonPropertyDescription("Requirements the pod's labels must all meet.")
    public List<Requirement> matchExpressions;

    enum Operator {
        In,
        NotIn,
        Exists,
        DoesNotExist
    }

    @ValidationRule(
            value =
                    "(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)",
            message = "In and NotIn need values; Exists and DoesNotExist take none")
    static final class Requirement {
        @Required
        @JsonPropertyDescription("The label key.")
        public String key;

        @Required
        @JsonPropertyDescription("In, NotIn, Exists or DoesNotExist.")
        public Operator operator;

        @JsonPropertyDescription("The values for In and NotIn.")
        public List<String> values;
    }
}
