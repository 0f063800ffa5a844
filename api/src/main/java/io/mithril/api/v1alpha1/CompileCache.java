package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.SchemaSwap;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A compile cache for the GPU pods of one namespace: which frameworks' caches are redirected into
 * node-local views, how large it may grow on each node, and which pods take part. Pods opt in with
 * the annotation {@code mithril.io/cache: enabled}. {@code kubectl get compilecaches} (short name
 * {@code cc}) shows what it does for them.
 */
@Group("mithril.io")
@Version("v1alpha1")
@Kind("CompileCache")
@Plural("compilecaches")
@Singular("compilecache")
@ShortNames("cc")
@AdditionalPrinterColumn(
        name = "Ready",
        type = AdditionalPrinterColumn.Type.STRING,
        jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(name = "Nodes", type = AdditionalPrinterColumn.Type.INTEGER, jsonPath = ".status.nodes")
@AdditionalPrinterColumn(name = "Used", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".status.used")
@AdditionalPrinterColumn(name = "Budget", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".spec.budget")
@AdditionalPrinterColumn(name = "Hit Ratio", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".status.hitRatio")
@AdditionalPrinterColumn(
        name = "Frameworks",
        type = AdditionalPrinterColumn.Type.STRING,
        jsonPath = ".spec.frameworks",
        priority = 1)
@AdditionalPrinterColumn(
        name = "Devices",
        type = AdditionalPrinterColumn.Type.STRING,
        jsonPath = ".status.deviceClasses",
        priority = 1)
@AdditionalPrinterColumn(
        name = "Remote Hits",
        type = AdditionalPrinterColumn.Type.INTEGER,
        jsonPath = ".status.remote.hits",
        priority = 1)
@AdditionalPrinterColumn(
        name = "Age",
        type = AdditionalPrinterColumn.Type.DATE,
        jsonPath = ".metadata.creationTimestamp")
// status.conditions has fabric8's Condition, whose fields carry no descriptions: the same shape, described
@SchemaSwap(originalType = CompileCacheStatus.class, fieldName = "conditions", targetType = ConditionSchema[].class)
public class CompileCache extends CustomResource<CompileCacheSpec, CompileCacheStatus> implements Namespaced {

    /** The pod annotation that opts a pod in. */
    public static final String ANNOTATION_ENABLED = "mithril.io/cache";
    /** The pod annotation that names the CompileCache when a namespace has several. */
    public static final String ANNOTATION_NAME = "mithril.io/cache-name";

    // overridden only to describe the two fields in the CRD (kubectl explain compilecaches.spec)
    @Override
    @JsonPropertyDescription(
            "What this cache does: which frameworks' caches are redirected, how much it may hold on each node, "
                    + "which pods and containers take part.")
    public CompileCacheSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("What the operator observed, aggregated from the node agents. Written by the operator.")
    public CompileCacheStatus getStatus() {
        return super.getStatus();
    }
}
