package io.mithril.e2e;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Plays kubelet for one node on this machine: runs a pod's containers as real processes, each in a
 * mount namespace of its own with the pod's volumes bind-mounted at their container paths, under the
 * container's user ({@code setpriv}). Volumes as kubelet makes them: an {@code emptyDir} is a
 * world-writable folder under the pod's folder; a {@code hostPath} of type DirectoryOrCreate is
 * created 0755 root-owned when missing; a {@code subPathExpr} folder is created with the volume
 * root's permissions. The image is not run: each container runs the command the test gives (init
 * containers run their own command, with the host's {@code sh}). Needs root (mount, setpriv).
 */
final class FakeKubelet {

    /** What a container printed and how it ended. */
    record Exit(String container, int code, String output, long millis) {}

    private final Path hostRoot;
    private final String node;

    FakeKubelet(Path hostRoot, String node) {
        this.hostRoot = hostRoot;
        this.node = node;
    }

    /** The host folder a path on the node maps to (hostPath volumes). */
    Path host(String nodePath) {
        return hostRoot.resolve(nodePath.replaceFirst("^/+", ""));
    }

    Path emptyDir(Pod pod, String volume) {
        return host(
                "/var/lib/kubelet/pods/" + pod.getMetadata().getUid() + "/volumes/kubernetes.io~empty-dir/" + volume);
    }

    /** Runs the init containers in order, then the named containers with the given commands, one after the other. */
    List<Exit> run(Pod pod, Map<String, List<String>> commands, long timeoutSeconds) throws Exception {
        Map<String, Path> volumes = prepareVolumes(pod);
        List<Exit> out = new ArrayList<>();
        for (Container c : pod.getSpec().getInitContainers()) {
            Exit e = runContainer(pod, c, c.getCommand(), volumes, timeoutSeconds);
            out.add(e);
            if (e.code() != 0) {
                return out; // kubelet would restart it; the pod would not start
            }
        }
        for (Container c : pod.getSpec().getContainers()) {
            List<String> cmd = commands.get(c.getName());
            if (cmd != null) {
                out.add(runContainer(pod, c, cmd, volumes, timeoutSeconds));
            }
        }
        return out;
    }

    private Map<String, Path> prepareVolumes(Pod pod) throws IOException {
        Map<String, Path> out = new HashMap<>();
        for (Volume v : pod.getSpec().getVolumes()) {
            if (v.getEmptyDir() != null) {
                Path d = Files.createDirectories(emptyDir(pod, v.getName()));
                Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
                out.put(v.getName(), d);
            } else if (v.getHostPath() != null) {
                Path d = host(v.getHostPath().getPath());
                if (!Files.isDirectory(d)) {
                    if (!"DirectoryOrCreate".equals(v.getHostPath().getType())) {
                        throw new IOException("hostPath " + v.getHostPath().getPath() + " missing (type "
                                + v.getHostPath().getType() + ")");
                    }
                    Files.createDirectories(d);
                    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                out.put(v.getName(), d);
            } // other volume types (service account token, ...) are not mounted here
        }
        return out;
    }

    private Exit runContainer(
            Pod pod, Container c, List<String> command, Map<String, Path> volumes, long timeoutSeconds)
            throws Exception {
        Map<String, String> env = env(pod, c);
        StringBuilder script = new StringBuilder("set -e\n");
        for (VolumeMount m : c.getVolumeMounts()) {
            Path src = volumes.get(m.getName());
            if (src == null) {
                continue;
            }
            if (m.getSubPathExpr() != null || m.getSubPath() != null) {
                String sub = m.getSubPath() != null ? m.getSubPath() : expand(m.getSubPathExpr(), env);
                Path d = src.resolve(sub);
                if (!Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        Files.createDirectory(d);
                        Files.setPosixFilePermissions(
                                d, Files.getPosixFilePermissions(src)); // the volume root's, no umask, as kubelet
                    } catch (java.nio.file.FileAlreadyExistsException agentWasFirst) {
                        // the agent made it meanwhile: kubelet mounts what is there
                    }
                }
                src = d;
            }
            script.append("mkdir -p ")
                    .append(q(m.getMountPath()))
                    .append(" && mount --bind ")
                    .append(q(src.toString()))
                    .append(' ')
                    .append(q(m.getMountPath()))
                    .append('\n');
            if (Boolean.TRUE.equals(m.getReadOnly())) {
                script.append("mount -o remount,bind,ro ")
                        .append(q(m.getMountPath()))
                        .append('\n');
            }
        }
        long[] ids = user(pod, c);
        script.append("exec setpriv --reuid=")
                .append(ids[0])
                .append(" --regid=")
                .append(ids[1])
                .append(ids[2] >= 0 ? " --groups=" + ids[2] : " --clear-groups")
                .append(" -- \"$@\"\n");
        List<String> argv = new ArrayList<>(
                List.of("unshare", "-m", "--propagation", "private", "sh", "-c", script.toString(), "sh"));
        argv.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        pb.environment().putAll(env);
        long t0 = System.nanoTime();
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] outBytes = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("container " + c.getName() + " ran past " + timeoutSeconds + " s");
        }
        return new Exit(
                c.getName(),
                p.exitValue(),
                new String(outBytes, StandardCharsets.UTF_8),
                (System.nanoTime() - t0) / 1_000_000);
    }

    /** uid, gid, supplementary group (fsGroup, or -1), as kubelet and the runtime would pick them. */
    private static long[] user(Pod pod, Container c) {
        PodSecurityContext psc = pod.getSpec().getSecurityContext();
        SecurityContext sc = c.getSecurityContext();
        Long uid =
                sc != null && sc.getRunAsUser() != null ? sc.getRunAsUser() : psc != null ? psc.getRunAsUser() : null;
        Long gid = sc != null && sc.getRunAsGroup() != null
                ? sc.getRunAsGroup()
                : psc != null ? psc.getRunAsGroup() : null;
        long u = uid == null ? 0 : uid;
        long g = gid == null ? u : gid;
        long fs = psc != null && psc.getFsGroup() != null ? psc.getFsGroup() : -1;
        return new long[] {u, g, fs};
    }

    private Map<String, String> env(Pod pod, Container c) {
        Map<String, String> out = new LinkedHashMap<>();
        for (EnvVar e : c.getEnv()) {
            if (e.getValue() != null) {
                out.put(e.getName(), expand(e.getValue(), out));
            } else if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null) {
                String path = e.getValueFrom().getFieldRef().getFieldPath();
                out.put(
                        e.getName(),
                        switch (path) {
                            case "metadata.uid" -> pod.getMetadata().getUid();
                            case "metadata.name" -> pod.getMetadata().getName();
                            case "metadata.namespace" -> pod.getMetadata().getNamespace();
                            case "spec.nodeName" -> node;
                            default -> "";
                        });
            }
        }
        return out;
    }

    private static final Pattern VAR = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    static String expand(String text, Map<String, String> env) {
        Matcher m = VAR.matcher(text);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(b, Matcher.quoteReplacement(env.getOrDefault(m.group(1), m.group(0))));
        }
        return m.appendTail(b).toString();
    }

    private static String q(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
