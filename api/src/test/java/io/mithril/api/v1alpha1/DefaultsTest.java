package io.mithril.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class DefaultsTest {

    @Test
    void frameworksJson_isTheFrameworksList() {
        List<?> parsed = Serialization.unmarshal(Defaults.FRAMEWORKS_JSON, List.class);
        assertThat(parsed)
                .isEqualTo(Defaults.FRAMEWORKS.stream().map(Framework::wire).toList());
    }

    @Test
    void budget_isASize() {
        assertThat(Sizes.budget(Defaults.BUDGET)).isPositive();
    }

    @Test
    void frameworkTable_foldersAndVariables_areEachUsedOnce() {
        Set<String> dirs =
                Set.of(Framework.values()).stream().map(Framework::dir).collect(Collectors.toSet());
        Set<String> vars =
                Set.of(Framework.values()).stream().map(Framework::envVar).collect(Collectors.toSet());
        assertThat(dirs).hasSize(Framework.values().length);
        assertThat(vars).hasSize(Framework.values().length);
        for (Framework f : Framework.values()) {
            assertThat(Framework.ofWire(f.wire())).isSameAs(f);
            assertThat(f.podPath()).startsWith(f.dir());
        }
        // vLLM hashes its VLLM_* variables into its keys: VLLM_CACHE_ROOT is the only one set
        assertThat(vars.stream().filter(v -> v.startsWith("VLLM_"))).containsExactly("VLLM_CACHE_ROOT");
        assertThat(Framework.ofWire("inductor")).isNull();
        assertThat(Framework.CudaJIT.podPath()).isEqualTo("cuda/current");
    }
}
