package io.mithril.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.Framework;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameworkTest {

    @Test
    void vllmAndSglang_implyInductorAndTriton_othersNothing() {
        assertThat(Framework.VLLM.implied()).containsExactly(Framework.Inductor, Framework.Triton);
        assertThat(Framework.SGLang.implied()).containsExactly(Framework.Inductor, Framework.Triton);
        for (Framework f : List.of(Framework.Inductor, Framework.Triton, Framework.FlashInfer, Framework.CudaJIT)) {
            assertThat(f.implied()).as(f.name()).isEmpty();
        }
    }

    @Test
    void withImplied_addsWhatIsImplied_onceEach_inDeclarationOrder() {
        assertThat(Framework.withImplied(List.of(Framework.CudaJIT, Framework.VLLM)))
                .containsExactly(Framework.Inductor, Framework.Triton, Framework.VLLM, Framework.CudaJIT);
        assertThat(Framework.withImplied(List.of(Framework.SGLang, Framework.Triton, Framework.VLLM)))
                .containsExactly(Framework.Inductor, Framework.Triton, Framework.VLLM, Framework.SGLang);
        assertThat(Framework.withImplied(List.of(Framework.Triton, Framework.Inductor)))
                .containsExactly(Framework.Inductor, Framework.Triton);
        assertThat(Framework.withImplied(List.of(Framework.FlashInfer))).containsExactly(Framework.FlashInfer);
        assertThat(Framework.withImplied(List.of())).isEmpty();
    }

    @Test
    void flashInfer_readsAndWritesUnderItsWireName() {
        CompileCacheSpec spec =
                Serialization.unmarshal("{\"frameworks\": [\"FlashInfer\", \"VLLM\"]}", CompileCacheSpec.class);
        assertThat(spec.getFrameworks()).containsExactly(Framework.FlashInfer, Framework.VLLM);
        assertThat(Serialization.asJson(spec)).contains("\"FlashInfer\"");
    }
}
