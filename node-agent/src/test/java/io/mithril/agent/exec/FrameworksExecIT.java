package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code exec} with each framework's cache written as the framework writes it (docs/frameworks.md
 * names the upstream source of each layout): shell workloads reproduce the file names, the
 * temp-then-rename order and the in-place rewrites, cold, then warm from the store.
 */
class FrameworksExecIT {

    Path tmpDir;
    ExecHarness h;

    @BeforeEach
    void freshRootPerTest(@TempDir Path tmp) throws Exception {
        h = new ExecHarness(tmpDir = tmp);
    }

    /**
     * Two workloads that both start before either ends: both are published the same (empty) group and
     * both commit what they wrote. Each script runs once the other has started.
     */
    private void coldTogether(String framework, String scriptA, String scriptB) throws Exception {
        String sync = tmpDir.resolve("sync").toString();
        List<Process> ps = new ArrayList<>();
        String[] scripts = {scriptA, scriptB};
        for (int i = 0; i < 2; i++) {
            String wait = "mkdir -p " + sync + " && touch " + sync + "/" + i + " && n=0; while [ ! -e " + sync + "/"
                    + (1 - i) + " ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; ";
            ps.add(h.start(List.of("--frameworks", framework, "--", "sh", "-c", wait + scripts[i])));
        }
        for (Process p : ps) {
            ExecHarness.Run r = h.finish(p);
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.ingested()).as(r.err()).isPositive();
        }
    }

    /** vLLM {@code vllm/compilation/backends.py}: JIT artifacts in {@code torch_compile_cache/<hash10>/rank_<rank>_<dp_rank>/<prefix>/}. */
    @Test
    void vllmDataParallelRanks_coldTogether_keepEachOthersArtifacts() throws Exception {
        String rank = "$VLLM_CACHE_ROOT/torch_compile_cache/1517964802/rank_0_";
        coldTogether(
                "vllm",
                "mkdir -p " + rank + "0/backbone && echo dp0 > " + rank + "0/backbone/artifact_shape_None_subgraph_0"
                        + " && echo '{}' > " + rank + "0/backbone/vllm_compile_cache.py",
                "mkdir -p " + rank + "1/backbone && echo dp1 > " + rank + "1/backbone/artifact_shape_None_subgraph_0"
                        + " && echo '{}' > " + rank + "1/backbone/vllm_compile_cache.py");
        ExecHarness.Run warm = h.sh(
                "cat " + rank + "0/backbone/artifact_shape_None_subgraph_0 " + rank
                        + "1/backbone/artifact_shape_None_subgraph_0",
                "--frameworks",
                "vllm");
        assertThat(warm.code()).as(warm.err()).isZero();
        assertThat(warm.out()).contains("dp0").contains("dp1");
    }

    /**
     * vLLM {@code vllm/compilation/decorators.py} (AOT, the default with torch >= 2.10): {@code
     * torch_compile_cache/torch_aot_compile/<sha256 of the model's factors>/rank_<r>_<dp>/model}, and
     * {@code <sha256>/inductor_cache/} as TORCHINDUCTOR_CACHE_DIR.
     */
    @Test
    void vllmTwoModelsAot_coldTogetherOnOneRoot_keepEachOthersArtifacts() throws Exception {
        String aot = "$VLLM_CACHE_ROOT/torch_compile_cache/torch_aot_compile/";
        String a = aot + "a".repeat(64);
        String b = aot + "b".repeat(64);
        coldTogether(
                "vllm",
                "mkdir -p " + a + "/rank_0_0 " + a + "/inductor_cache/fxgraph/ab/fkeya && echo llama > " + a
                        + "/rank_0_0/model" + " && echo fxa > " + a + "/inductor_cache/fxgraph/ab/fkeya/e1",
                "mkdir -p " + b + "/rank_0_0 && echo qwen > " + b + "/rank_0_0/model");
        ExecHarness.Run warm = h.sh(
                "cat " + a + "/rank_0_0/model " + b + "/rank_0_0/model " + a + "/inductor_cache/fxgraph/ab/fkeya/e1",
                "--frameworks",
                "vllm");
        assertThat(warm.code()).as(warm.err()).isZero();
        assertThat(warm.out()).contains("llama").contains("qwen").contains("fxa");
        assertThat(warm.restored())
                .as("two rank folders and one fxgraph key folder")
                .isEqualTo(3);
    }

    /** vLLM {@code backends.py} {@code CompilerManager.save_to_file}: {@code open(path, "w")} over the index when a new shape compiled. */
    @Test
    void vllmCompileCacheIndex_rewrittenInPlaceInALaterRun_becomesTheUnitsNextVersion() throws Exception {
        String dir = "$VLLM_CACHE_ROOT/torch_compile_cache/0123456789/rank_0_0/backbone";
        assertThat(h.sh(
                                "mkdir -p " + dir + " && echo \"{(None, 0, 'inductor'): 'a'}\" > " + dir
                                        + "/vllm_compile_cache.py" + " && echo a > " + dir + "/artifact_a",
                                "--frameworks",
                                "vllm")
                        .ingested())
                .isEqualTo(1);
        ExecHarness.Run second = h.sh(
                "test \"$(cat " + dir + "/vllm_compile_cache.py)\" = \"{(None, 0, 'inductor'): 'a'}\""
                        + " && echo b > " + dir
                        + "/artifact_b && echo \"{(None, 0, 'inductor'): 'a', (8, 0, 'inductor'): 'b'}\" > "
                        + dir + "/vllm_compile_cache.py",
                "--frameworks",
                "vllm");
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.ingested()).isEqualTo(1);
        assertThat(h.verify()).as("the store's blobs untouched by the rewrite").isZero();
        ExecHarness.Run third = h.sh(
                "cat " + dir + "/vllm_compile_cache.py " + dir + "/artifact_a " + dir + "/artifact_b",
                "--frameworks",
                "vllm");
        assertThat(third.out()).contains("(8, 0, 'inductor'): 'b'").contains("a\nb");
        assertThat(third.ingested()).isZero();
    }

    /**
     * A run that failed: what vLLM wrote in place ({@code rank_<r>_<dp>/model}, the index) may be torn and is
     * not kept; its Inductor cache (write_atomic, torch/_inductor/codecache.py) and DeepGEMM's renamed kernel
     * folders are whole at their final names and are, once settled.
     */
    @Test
    void vllmFailedRun_keepsOnlyItsAtomicallyWrittenUnits() throws Exception {
        String a = "$VLLM_CACHE_ROOT/torch_compile_cache/torch_aot_compile/" + "c".repeat(64);
        String k = "$VLLM_CACHE_ROOT/deep_gemm/cache/kernel.fp8.0a0b";
        ExecHarness.Run failed = h.sh(
                "mkdir -p " + a + "/rank_0_0 " + a + "/inductor_cache/fxgraph/ab/fkey " + k
                        + " && echo torn > " + a + "/rank_0_0/model && echo fx > " + a
                        + "/inductor_cache/fxgraph/ab/fkey/e1"
                        + " && echo bin > " + k + "/kernel.cubin && sleep 3; exit 1",
                "--frameworks",
                "vllm");
        assertThat(failed.code()).isEqualTo(1);
        assertThat(failed.ingested()).as(failed.err()).isEqualTo(2);
        ExecHarness.Run next = h.sh(
                "cat " + a + "/inductor_cache/fxgraph/ab/fkey/e1 " + k + "/kernel.cubin && test ! -e " + a
                        + "/rank_0_0/model",
                "--frameworks",
                "vllm");
        assertThat(next.code()).as(next.out() + next.err()).isZero();
        assertThat(next.out()).isEqualTo("fx\nbin\n");
    }

    /**
     * "Why did I miss?" as the summary says it, run by run: cold on an empty group, warm, then a vLLM
     * whose key changed (another attention backend: {@code backends.py} writes a new hash folder with
     * its own {@code cache_key_factors.json}), which names the factor.
     */
    @Test
    void summarySaysWhyARunMissed_empty_warm_thenTheVllmFactorThatChanged() throws Exception {
        String write = "d=$VLLM_CACHE_ROOT/torch_compile_cache/%s/rank_0_0/backbone && mkdir -p $d"
                + " && printf '{\"config_hash\": \"c1\", \"env\": {\"VLLM_ATTENTION_BACKEND\": \"%s\"}}' > $d/cache_key_factors.json"
                + " && echo art > $d/artifact_shape_None_subgraph_0 && echo '{}' > $d/vllm_compile_cache.py";
        ExecHarness.Run cold = h.sh(write.formatted("aaaaaaaaaa", "FLASH_ATTN"), "--frameworks", "vllm");
        assertThat(cold.why())
                .as(cold.err())
                .startsWith("nothing published: the group ")
                .contains("is empty on this node")
                .contains("it compiled 1 entries");
        ExecHarness.Run warm =
                h.sh("cat $VLLM_CACHE_ROOT/torch_compile_cache/aaaaaaaaaa/rank_0_0/backbone/*", "--frameworks", "vllm");
        assertThat(warm.why()).as(warm.err()).isEqualTo("warm: read 1 of 1 published entries, compiled nothing");
        ExecHarness.Run changed = h.sh(write.formatted("bbbbbbbbbb", "FLASHINFER"), "--frameworks", "vllm");
        assertThat(changed.why())
                .as(changed.err())
                .startsWith("key changed: read none of the 1 published entries and compiled 1 new ones")
                .endsWith(
                        "vLLM's cache_key_factors.json differs in: env.VLLM_ATTENTION_BACKEND (FLASH_ATTN -> FLASHINFER)");
    }

    /** The real fixture through the fake Inductor: its first run is cold on an empty group, its second warm. */
    @Test
    void summarySaysWhy_realInductorCache_coldThenWarm() throws Exception {
        ExecHarness.Run cold = h.fake();
        assertThat(cold.why()).as(cold.err()).startsWith("nothing published");
        ExecHarness.Run warm = h.fake();
        assertThat(warm.why()).as(warm.err()).startsWith("warm: read ");
        h.device = "cuda-8.0"; // the same cache on a node of another device class
        ExecHarness.Run other = h.fake();
        assertThat(other.why())
                .as(other.err())
                .startsWith("nothing published: this node holds local/default only for cuda-9.0/");
    }

    @Test
    void vllmAlone_bringsInductorAndTritonCachesToo() throws Exception {
        ExecHarness.Run r = h.sh(
                "echo \"V=$VLLM_CACHE_ROOT I=$TORCHINDUCTOR_CACHE_DIR T=$TRITON_CACHE_DIR\"", "--frameworks", "vllm");
        assertThat(r.out()).containsPattern("V=/\\S+/vllm I=/\\S+/inductor T=/\\S+/triton");
        ExecHarness.Run s = h.sh("echo \"I=$TORCHINDUCTOR_CACHE_DIR T=$TRITON_CACHE_DIR\"", "--frameworks", "sglang");
        assertThat(s.out()).containsPattern("I=/\\S+/inductor T=/\\S+/triton");
    }

    /**
     * SGLang {@code python/sglang/srt/compilation/backend.py}: a debug dump {@code computation_graph_<time.time()>.py}
     * under a new name at every start, never read back; the index {@code sglang_compile_cache.py} is what loads.
     */
    @Test
    void sglangGraphDump_newNameEveryStart_makesNoNewEntryVersion() throws Exception {
        String dir = "$SGLANG_CACHE_DIR/torch_compile_cache/5f3c2a1b/rank_0_0/backbone";
        String start = "mkdir -p " + dir + " && echo graph > " + dir + "/computation_graph_$(date +%s.%N).py && ";
        assertThat(h.sh(start + "echo '{}' > " + dir + "/sglang_compile_cache.py", "--frameworks", "sglang")
                        .ingested())
                .isEqualTo(1);
        ExecHarness.Run warm = h.sh(start + "test -e " + dir + "/sglang_compile_cache.py", "--frameworks", "sglang");
        assertThat(warm.code()).as(warm.err()).isZero();
        assertThat(warm.ingested()).isZero();
    }

    /**
     * Triton {@code python/triton/runtime/cache.py} ({@code FileCacheManager.put}: each file via {@code tmp.pid_*}
     * and os.replace; {@code put_group} last) and {@code runtime/autotuner.py} ({@code <fn>.autotune.json} alone).
     */
    @Test
    void tritonInterruptedFolders_areNeverServed_autotuneAndWholeFoldersAre() throws Exception {
        String t = "$TRITON_CACHE_DIR/";
        String grp = "{\"child_paths\": {\"k.json\": \"/x/k.json\", \"k.cubin\": \"/x/k.cubin\"}}";
        String script = "mkdir -p " + t + "NOGROUP " + t + "MISSINGCHILD " + t + "AUTOTUNE " + t + "WHOLE"
                + " && echo j > " + t + "NOGROUP/k.json && echo c > " + t + "NOGROUP/k.cubin"
                + " && echo j > " + t + "MISSINGCHILD/k.json && echo '" + grp + "' > " + t
                + "MISSINGCHILD/__grp__k.json"
                + " && echo '{\"key\": [8], \"configs_timings\": []}' > " + t + "AUTOTUNE/matmul_kernel.autotune.json"
                + " && echo j > " + t + "WHOLE/k.json && echo c > " + t + "WHOLE/k.cubin && echo '" + grp + "' > " + t
                + "WHOLE/__grp__k.json";
        ExecHarness.Run cold = h.sh(script, "--frameworks", "triton");
        assertThat(cold.ingested()).isEqualTo(2);
        ExecHarness.Run warm = h.sh("ls $TRITON_CACHE_DIR", "--frameworks", "triton");
        assertThat(warm.out().split("\\s+")).containsExactlyInAnyOrder("AUTOTUNE", "WHOLE");
    }

    /** DeepGEMM {@code csrc/jit/compiler.hpp}: {@code tmp/<uuid>/} renamed whole to {@code cache/kernel.<name>.<hash>/}. */
    @Test
    void deepGemmKernelFolder_servedWhole_stagingNever() throws Exception {
        String dg = "$VLLM_CACHE_ROOT/deep_gemm/";
        String k = "kernel.sm90_fp8_gemm_1d2d.5e1f0c9a";
        ExecHarness.Run cold = h.sh(
                "mkdir -p " + dg + "tmp/0a1b-left-by-a-killed-rank " + dg + "tmp/build && echo half > " + dg
                        + "tmp/0a1b-left-by-a-killed-rank/kernel.cubin && echo src > " + dg
                        + "tmp/build/kernel.cu && echo bin > " + dg
                        + "tmp/build/kernel.cubin && mkdir -p " + dg + "cache && mv " + dg + "tmp/build " + dg
                        + "cache/" + k,
                "--frameworks",
                "vllm");
        assertThat(cold.ingested()).as("one kernel folder").isEqualTo(1);
        ExecHarness.Run warm = h.sh(
                "cat " + dg + "cache/" + k + "/kernel.cu " + dg + "cache/" + k + "/kernel.cubin && test ! -e " + dg
                        + "tmp",
                "--frameworks",
                "vllm");
        assertThat(warm.code()).as(warm.out() + warm.err()).isZero();
        assertThat(warm.out()).isEqualTo("src\nbin\n");
        assertThat(warm.restored()).isEqualTo(1);
    }

    /** The CUDA driver invalidates its JIT cache on an upgrade: entries go only to the driver version that made them. */
    @Test
    void cudaJitEntry_madeUnderOneDriver_isNotServedUnderAnother() throws Exception {
        ExecHarness.Run cold = h.sh(
                "mkdir -p $CUDA_CACHE_PATH/a/b && echo sass > $CUDA_CACHE_PATH/a/b/1f2e && echo \"M=$CUDA_CACHE_MAXSIZE\"",
                "--frameworks",
                "cuda",
                "--cuda-driver",
                "550.54.15");
        assertThat(cold.out()).contains("M=4294967296");
        assertThat(cold.ingested()).isEqualTo(1);
        ExecHarness.Run upgraded = h.sh(
                "test ! -e $CUDA_CACHE_PATH/a/b/1f2e && ! grep -rq sass $CUDA_CACHE_PATH/..",
                "--frameworks",
                "cuda",
                "--cuda-driver",
                "560.28.03");
        assertThat(upgraded.code()).as(upgraded.err()).isZero();
        assertThat(upgraded.restored()).isZero();
        ExecHarness.Run same =
                h.sh("cat $CUDA_CACHE_PATH/a/b/1f2e", "--frameworks", "cuda", "--cuda-driver", "550.54.15");
        assertThat(same.out()).isEqualTo("sass\n");
        Process p = h.start(
                List.of(
                        "--frameworks",
                        "cuda",
                        "--cuda-driver",
                        "550.54.15",
                        "--",
                        "sh",
                        "-c",
                        "echo \"M=$CUDA_CACHE_MAXSIZE\""),
                env -> env.put("CUDA_CACHE_MAXSIZE", "1073741824"));
        assertThat(h.finish(p).out()).as("the user's own limit is kept").contains("M=1073741824");
    }

    /**
     * FlashInfer {@code flashinfer/jit/cpp_ext.py}: {@code generate_ninja_build_for_op} writes {@code build.ninja}
     * with absolute paths into {@code cached_ops/<op>/} (objects and {@code <op>.so} there too, sources in
     * {@code generated/<op>/}, {@code deps = gcc}), and {@code run_ninja} builds in that folder. A real ninja build.
     */
    @Test
    void flashinferNinjaBuild_servedWarm_ninjaHasNothingToDo() throws Exception {
        String ws = "$FLASHINFER_WORKSPACE_BASE/.cache/flashinfer/90a";
        String gen = ws + "/generated/norm";
        String ops = ws + "/cached_ops/norm";
        String build = "mkdir -p " + gen + " " + ops
                + " && printf '#include \"norm.h\"\\nint norm(void){return N;}\\n' > " + gen + "/norm.c"
                + " && echo '#define N 3' > " + gen + "/norm.h"
                + " && printf 'rule cc\\n  command = cc -fPIC -MMD -MF $out.d -c $in -o $out\\n  depfile = $out.d\\n  deps = gcc\\n"
                + "rule link\\n  command = cc -shared $in -o $out\\n"
                + "build %s/norm.o: cc %s/norm.c\\nbuild %s/norm.so: link %s/norm.o\\ndefault %s/norm.so\\n' "
                + "\"$(cd " + ops + " && pwd)\" \"$(cd " + gen + " && pwd)\" \"$(cd " + ops + " && pwd)\" \"$(cd " + ops
                + " && pwd)\" \"$(cd " + ops
                + " && pwd)\" > " + ops + "/build.ninja";
        ExecHarness.Run cold = h.sh(build + " && ninja -C " + ops + " -f build.ninja", "--frameworks", "flashinfer");
        assertThat(cold.code()).as(cold.out() + cold.err()).isZero();
        assertThat(cold.ingested())
                .as("the op folder and its generated sources")
                .isEqualTo(2);
        ExecHarness.Run warm = h.sh(
                "ls -a " + ops + " && ninja -C " + ops + " -f build.ninja -n -d explain", "--frameworks", "flashinfer");
        assertThat(warm.code()).as(warm.out() + warm.err()).isZero();
        assertThat(warm.out())
                .contains(".ninja_log")
                .contains(".ninja_deps")
                .contains("norm.so")
                .contains("no work to do");
    }
}
