package io.mithril.agent.key;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The device class a compiled artifact is valid for, after the seed design:
 * {@code CudaCompute{major,minor}}, {@code CudaAny}, {@code Cpu}. The text forms
 * ({@code cuda-9.0}, {@code cuda-any}, {@code cpu}) are stable: they are written into group keys
 * on disk and into Kubernetes labels, so they must never change.
 */
public sealed interface DeviceClass permits DeviceClass.CudaCompute, DeviceClass.CudaAny, DeviceClass.Cpu {

    String text();

    record CudaCompute(int major, int minor) implements DeviceClass {
        public CudaCompute {
            if (major < 1 || major > 99 || minor < 0 || minor > 99) {
                throw new InvalidNameException("compute capability out of range: " + major + "." + minor);
            }
        }

        @Override
        public String text() {
            return "cuda-" + major + "." + minor;
        }
    }

    record CudaAny() implements DeviceClass {
        @Override
        public String text() {
            return "cuda-any";
        }
    }

    record Cpu() implements DeviceClass {
        @Override
        public String text() {
            return "cpu";
        }
    }

    Pattern CUDA = Pattern.compile("cuda-(\\d{1,2})\\.(\\d{1,2})");

    static DeviceClass parse(String text) {
        if ("cpu".equals(text)) {
            return new Cpu();
        }
        if ("cuda-any".equals(text)) {
            return new CudaAny();
        }
        Matcher m = CUDA.matcher(text == null ? "" : text);
        if (m.matches()) {
            return new CudaCompute(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
        }
        throw new InvalidNameException("unknown device class '" + Names.printable(String.valueOf(text))
                + "': expected cpu, cuda-any or cuda-<major>.<minor>");
    }
}
