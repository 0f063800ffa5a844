package io.mithril.agent.key;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.index.EntryKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamesTest {

    static final GroupId G =
            new GroupId("ns", "cc", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));

    @ParameterizedTest
    @ValueSource(
            strings = {"..", "../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "a\0b", "a\nb", "a\\b", "", "./a"})
    void entryName_hostile_isRefused(String name) {
        assertThatThrownBy(() -> new EntryKey(G, name)).isInstanceOf(InvalidNameException.class);
    }

    @Test
    void entryName_tooLong_isRefused() {
        assertThatThrownBy(() -> new EntryKey(G, "a".repeat(256))).hasMessageContaining("longer than 255");
        assertThatThrownBy(() -> new EntryKey(G, ("a".repeat(200) + "/").repeat(6)))
                .hasMessageContaining("1024");
    }

    @ParameterizedTest
    @ValueSource(strings = {"triton/ABC/", "inductor/fxgraph/ab/fabc/", "inductor/cc/cxyz.py", "a b/c-d_e.f"})
    void entryName_frameworkShapes_areAccepted(String name) {
        assertThat(new EntryKey(G, name).name()).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "..",
                "a/b",
                "UPPER",
                "a\0",
                "-lead",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                ""
            })
    void groupParts_hostile_areRefused(String part) {
        assertThatThrownBy(() -> new GroupId(part, "cc", new DeviceClass.Cpu(), GpuProduct.NONE))
                .isInstanceOf(InvalidNameException.class);
        assertThatThrownBy(() -> new GroupId("ns", part, new DeviceClass.Cpu(), GpuProduct.NONE))
                .isInstanceOf(InvalidNameException.class);
    }

    @Test
    void deviceClass_textForms_roundTrip() {
        for (DeviceClass d : new DeviceClass[] {
            new DeviceClass.CudaCompute(9, 0),
            new DeviceClass.CudaCompute(12, 1),
            new DeviceClass.CudaAny(),
            new DeviceClass.Cpu()
        }) {
            assertThat(DeviceClass.parse(d.text())).isEqualTo(d);
        }
        assertThat(new DeviceClass.CudaCompute(8, 6).text()).isEqualTo("cuda-8.6");
        assertThatThrownBy(() -> DeviceClass.parse("cuda-9")).hasMessageContaining("unknown device class");
        assertThatThrownBy(() -> DeviceClass.parse("gpu")).isInstanceOf(InvalidNameException.class);
    }

    @Test
    void gpuProduct_nvidiaSmiAndNodeLabel_giveTheSameSlug_andPcieDiffersFromSxm() {
        assertThat(GpuProduct.of("NVIDIA H100 80GB HBM3")).isEqualTo(GpuProduct.of("NVIDIA-H100-80GB-HBM3"));
        assertThat(GpuProduct.of("NVIDIA H100 PCIe")).isNotEqualTo(GpuProduct.of("NVIDIA H100 80GB HBM3"));
        assertThat(GpuProduct.of("")).isEqualTo(GpuProduct.NONE);
        GroupId pcie = new GroupId("ns", "cc", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 PCIe"));
        assertThat(pcie).isNotEqualTo(G);
        assertThat(GroupId.parse(pcie.text())).isEqualTo(pcie);
        assertThat(G.text()).isEqualTo("ns/cc/cuda-9.0/nvidia-h100-80gb-hbm3");
    }
}
