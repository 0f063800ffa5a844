package io.mithril.operator.reconciler;

import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.ContainerScope;
import io.mithril.api.v1alpha1.Sizes;
import java.util.ArrayList;
import java.util.List;

/**
 * What the schema says about a spec, checked again in code: a CompileCache can reach the operator
 * without the API server's validation (the CRD installed late, an older schema, a test server), and
 * then it gets a clear condition and event instead of an exception in a loop.
 */
public final class SpecCheck {

    private SpecCheck() {}

    public static List<String> problems(CompileCacheSpec spec) {
        List<String> out = new ArrayList<>();
        if (spec == null) {
            return out;
        }
        if (spec.getBudget() != null) {
            try {
                Sizes.budget(spec.getBudget());
            } catch (IllegalArgumentException e) {
                out.add("spec.budget: " + e.getMessage());
            }
        }
        if (spec.getContainers() == ContainerScope.Named
                && (spec.getContainerNames() == null || spec.getContainerNames().isEmpty())) {
            out.add("spec.containerNames must name at least one container when spec.containers is Named");
        }
        if (spec.getPodSelector() != null && spec.getPodSelector().getMatchExpressions() != null) {
            for (var r : spec.getPodSelector().getMatchExpressions()) {
                boolean withValues = r.getValues() != null && !r.getValues().isEmpty();
                String op = r.getOperator() == null ? "" : r.getOperator();
                boolean ok = switch (op) {
                    case "In", "NotIn" -> withValues;
                    case "Exists", "DoesNotExist" -> !withValues;
                    default -> false;
                };
                if (!ok) {
                    out.add("spec.podSelector: operator " + op + " on " + r.getKey()
                            + " must be In or NotIn with values, or Exists or DoesNotExist without");
                }
            }
        }
        Integer t = spec.getPublishTimeoutSeconds();
        if (t != null && (t < 1 || t > 600)) {
            out.add("spec.publishTimeoutSeconds must be within 1..600, got " + t);
        }
        return out;
    }
}
