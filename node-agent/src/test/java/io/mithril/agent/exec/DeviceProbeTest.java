package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceProbeTest {

    @Test
    void parse_nvidiaSmiLine() {
        DeviceProbe.Device d = DeviceProbe.parse("9.0, NVIDIA H100 80GB HBM3");
        assertThat(d.deviceClass()).isEqualTo(new DeviceClass.CudaCompute(9, 0));
        assertThat(d.product()).isEqualTo(GpuProduct.of("NVIDIA-H100-80GB-HBM3"));
        assertThat(DeviceProbe.parse("garbage").deviceClass()).isEqualTo(new DeviceClass.Cpu());
        assertThat(DeviceProbe.parse("x.y, GPU").deviceClass()).isEqualTo(new DeviceClass.Cpu());
    }

    @Test
    void detect_usesTheFirstGpu_andFallsBackToCpu(@TempDir Path dir) throws Exception {
        Path smi = dir.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\necho '8.6, NVIDIA A10'\necho '9.0, NVIDIA H100 PCIe'\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        DeviceProbe.Device d = DeviceProbe.detect(smi.toString());
        assertThat(d.deviceClass().text()).isEqualTo("cuda-8.6");
        assertThat(d.product().slug()).isEqualTo("nvidia-a10");
        assertThat(DeviceProbe.detect(dir.resolve("missing").toString()).deviceClass())
                .isEqualTo(new DeviceClass.Cpu());
        Path failing = dir.resolve("failing");
        Files.writeString(failing, "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n");
        Files.setPosixFilePermissions(failing, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThat(DeviceProbe.detect(failing.toString()).deviceClass()).isEqualTo(new DeviceClass.Cpu());
    }
}
