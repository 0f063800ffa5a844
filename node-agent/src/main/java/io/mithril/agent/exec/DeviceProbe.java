package io.mithril.agent.exec;

import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * This machine's device class and GPU product: from {@code nvidia-smi} when it is on the PATH and
 * answers, else {@code cpu}. With several GPUs the first one names the group (a process compiles for
 * the device its tensors are on; mixed-GPU machines should pass {@code --device}).
 */
public final class DeviceProbe {

    public record Device(DeviceClass deviceClass, GpuProduct product, String source) {}

    private DeviceProbe() {}

    public static Device detect(String nvidiaSmi) {
        String[] answer = query(nvidiaSmi, "compute_cap,name");
        return answer[1] == null ? cpu(answer[0]) : parse(answer[1]);
    }

    /**
     * The CUDA driver's version ({@code nvidia-smi --query-gpu=driver_version}, e.g. {@code 550.54.15}),
     * or null when nvidia-smi is missing or does not answer.
     */
    public static String driverVersion(String nvidiaSmi) {
        String line = query(nvidiaSmi, "driver_version")[1];
        return line != null && line.trim().matches("[0-9][0-9.]*") ? line.trim() : null;
    }

    /**
     * Runs {@code nvidia-smi --query-gpu=FIELDS --format=csv,noheader}: {why not, null} or {null, the
     * first GPU's line}. The output goes through a file: a pipe nobody drains could stall it.
     */
    private static String[] query(String nvidiaSmi, String fields) {
        Path out = null;
        try {
            out = Files.createTempFile("mithril-nvidia-smi", ".txt");
            Process p = new ProcessBuilder(nvidiaSmi, "--query-gpu=" + fields, "--format=csv,noheader")
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new String[] {"nvidia-smi did not answer within 10 s", null};
            }
            String text = Files.readString(out, StandardCharsets.UTF_8).trim();
            if (p.exitValue() != 0 || text.isEmpty()) {
                return new String[] {"nvidia-smi failed", null};
            }
            return new String[] {null, text.lines().findFirst().orElse("")};
        } catch (IOException e) {
            return new String[] {"no nvidia-smi", null};
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new String[] {"interrupted", null};
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // temp file
                }
            }
        }
    }

    /** Parses one line of {@code nvidia-smi --query-gpu=compute_cap,name --format=csv,noheader}: {@code 9.0, NVIDIA H100 80GB HBM3}. */
    public static Device parse(String line) {
        int comma = line.indexOf(',');
        if (comma < 0) {
            return cpu("unparsable nvidia-smi output");
        }
        String[] cc = line.substring(0, comma).trim().split("\\.");
        try {
            DeviceClass d =
                    new DeviceClass.CudaCompute(Integer.parseInt(cc[0]), cc.length > 1 ? Integer.parseInt(cc[1]) : 0);
            return new Device(d, GpuProduct.of(line.substring(comma + 1).trim()), "nvidia-smi");
        } catch (RuntimeException e) {
            return cpu("unparsable nvidia-smi output");
        }
    }

    private static Device cpu(String why) {
        return new Device(new DeviceClass.Cpu(), GpuProduct.NONE, why);
    }
}
