package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/**
 * The container image definitions checked against the build, so they cannot drift silently: a renamed
 * jar, a lost USER or a JDK base would otherwise only show on someone's cluster. Reads
 * {@code operator/Dockerfile}, {@code node-agent/Dockerfile}, the module poms and {@code .dockerignore}.
 * Building and starting the images is {@code images/build} and {@link ImagesE2E}.
 */
class ImageDefinitionsTest {

    /** Surefire runs in the module's folder, e2e/. */
    static final Path REPO = Path.of("").toAbsolutePath().getParent();

    @Test
    void operatorImage_runsItsJarOnAJre_asNumericNonRootUser() throws Exception {
        Dockerfile d = Dockerfile.parse(REPO.resolve("operator/Dockerfile"));
        assertJreOnlyAndRunsJar(d, "operator");
        assertThat(d.last("USER")).as("USER uid[:gid]").matches("\\d+(:\\d+)?");
        long uid = Long.parseLong(d.last("USER").split(":")[0]);
        assertThat(uid).as("the operator runs as a non-root uid").isNotZero();
        assertThat(d.last("EXPOSE")).isEqualTo("8443");
    }

    @Test
    void agentImage_runsItsJarOnAJre_asRoot_withSerialGc_andServesOnItsPort() throws Exception {
        Dockerfile d = Dockerfile.parse(REPO.resolve("node-agent/Dockerfile"));
        assertJreOnlyAndRunsJar(d, "node-agent");
        assertThat(d.last("USER")).as("root on purpose, stated in the file").isIn("0", "0:0", "root");
        assertThat(d.env("JDK_JAVA_OPTIONS")).contains("-XX:+UseSerialGC");
        List<String> cmd = d.execForm("CMD");
        assertThat(cmd).containsSubsequence("serve", "--kubernetes");
        assertThat(cmd.get(cmd.indexOf("--listen") + 1)).endsWith(":" + d.last("EXPOSE"));
        assertThat(cmd.get(cmd.indexOf("--root") + 1)).startsWith("/var/lib/mithril/");
    }

    /** images/build makes one root for both (debootstrap, then the RUN), and nodes holding the agent share the layer. */
    @Test
    void bothImages_startFromTheSameBaseAndRun() throws Exception {
        Dockerfile operator = Dockerfile.parse(REPO.resolve("operator/Dockerfile"));
        Dockerfile agent = Dockerfile.parse(REPO.resolve("node-agent/Dockerfile"));
        assertThat(agent.resolve(agent.last("FROM"))).isEqualTo(operator.resolve(operator.last("FROM")));
        assertThat(agent.all("RUN")).isEqualTo(operator.all("RUN"));
    }

    @Test
    void dockerignore_letsThroughExactlyWhatTheDockerfilesCopy() throws Exception {
        List<String> ignore = Files.readAllLines(REPO.resolve(".dockerignore")).stream()
                .map(String::trim)
                .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .toList();
        assertThat(ignore).as("everything is excluded first").startsWith("*");
        List<String> sources = new ArrayList<>();
        for (String module : List.of("operator", "node-agent")) {
            for (List<String> copy :
                    Dockerfile.parse(REPO.resolve(module + "/Dockerfile")).all("COPY")) {
                sources.add(copy.get(0).replaceAll("/$", ""));
            }
        }
        List<String> included = ignore.stream()
                .filter(l -> l.startsWith("!"))
                .map(l -> l.substring(1).replaceAll("/$", ""))
                .filter(l -> !l.endsWith("Dockerfile"))
                .toList();
        assertThat(included).containsExactlyInAnyOrderElementsOf(sources);
    }

    /**
     * Single stage on a Debian slim point release, one RUN before any COPY that installs Debian's headless
     * JRE of the project's Java release and nothing else, jar and lib/ where the manifest expects them.
     */
    private static void assertJreOnlyAndRunsJar(Dockerfile d, String module) throws Exception {
        assertThat(d.all("FROM")).as("one stage").hasSize(1);
        String base = d.resolve(d.last("FROM"));
        assertThat(base)
                .as("base image: a Debian point release images/build can debootstrap")
                .matches("debian:(12|13)\\.\\d+-slim(@sha256:[0-9a-f]{64})?");
        String release = pomText(REPO.resolve("pom.xml"), "/project/properties/maven.compiler.release");
        assertThat(d.all("RUN")).as("one RUN").hasSize(1);
        String run = String.join(" ", d.all("RUN").get(0));
        Matcher install = Pattern.compile("apt-get install -y --no-install-recommends ([^&]+?) &&")
                .matcher(run);
        assertThat(install.find())
                .as("apt-get install without recommends: %s", run)
                .isTrue();
        assertThat(install.group(1).split("\\s+"))
                .as("installed: the JRE only, no JDK")
                .containsExactly("openjdk-" + release + "-jre-headless");
        assertThat(run)
                .as("apt's lists not kept")
                .startsWith("apt-get update &&")
                .endsWith("rm -rf /var/lib/apt/lists/*");
        List<String> order = d.instructions().stream()
                .map(Map.Entry::getKey)
                .filter(k -> k.equals("RUN") || k.equals("COPY"))
                .toList();
        assertThat(order)
                .as("RUN before the COPY lines (the shared base)")
                .startsWith("RUN")
                .containsOnlyOnce("RUN");

        String finalName = pomText(REPO.resolve(module + "/pom.xml"), "/project/build/finalName");
        String jar = "/opt/mithril/" + finalName + ".jar";
        assertThat(d.all("COPY")).contains(List.of(module + "/target/" + finalName + ".jar", jar));
        // The manifest's Class-Path says lib/<artifact>.jar, relative to the jar.
        assertThat(pomText(REPO.resolve(module + "/pom.xml"), "//manifest/classpathPrefix"))
                .isEqualTo("lib/");
        assertThat(d.all("COPY")).contains(List.of(module + "/target/lib/", "/opt/mithril/lib/"));
        assertThat(d.execForm("ENTRYPOINT")).containsExactly("java", "-jar", jar);

        assertThat(d.env("JDK_JAVA_OPTIONS")).contains("-XX:MaxRAMPercentage=");
        assertThat(d.labels())
                .containsKeys(
                        "org.opencontainers.image.title",
                        "org.opencontainers.image.source",
                        "org.opencontainers.image.version",
                        "org.opencontainers.image.revision");
    }

    private static String pomText(Path pom, String xpath) throws Exception {
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
        return javax.xml.xpath.XPathFactory.newInstance()
                .newXPath()
                .evaluate(xpath, doc)
                .trim();
    }

    /** The few Dockerfile forms these files use: instructions, line continuations, comments, ARG defaults. */
    record Dockerfile(List<Map.Entry<String, String>> instructions) {

        private static final ObjectMapper JSON = new ObjectMapper();
        private static final Pattern KEY_VALUE = Pattern.compile("([\\w.\\-]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)");

        static Dockerfile parse(Path file) throws IOException {
            List<Map.Entry<String, String>> out = new ArrayList<>();
            StringBuilder line = new StringBuilder();
            for (String raw : Files.readAllLines(file)) {
                String t = raw.strip();
                if (t.startsWith("#") || (t.isEmpty() && line.isEmpty())) {
                    continue;
                }
                if (t.endsWith("\\")) {
                    line.append(t, 0, t.length() - 1).append(' ');
                    continue;
                }
                line.append(t);
                String[] parts = line.toString().strip().split("\\s+", 2);
                out.add(Map.entry(parts[0].toUpperCase(), parts.length > 1 ? parts[1].strip() : ""));
                line.setLength(0);
            }
            return new Dockerfile(out);
        }

        List<List<String>> all(String instruction) {
            return instructions.stream()
                    .filter(e -> e.getKey().equals(instruction))
                    .map(e -> List.of(e.getValue().split("\\s+")))
                    .toList();
        }

        String last(String instruction) {
            List<List<String>> all = all(instruction);
            assertThat(all).as(instruction).isNotEmpty();
            return String.join(" ", all.get(all.size() - 1));
        }

        List<String> execForm(String instruction) throws IOException {
            String args = instructions.stream()
                    .filter(e -> e.getKey().equals(instruction))
                    .reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("no " + instruction))
                    .getValue();
            assertThat(args)
                    .as("%s in exec form (no shell between the runtime and java)", instruction)
                    .startsWith("[");
            return JSON.readValue(args, new TypeReference<List<String>>() {});
        }

        Map<String, String> keyValues(String instruction) {
            Map<String, String> kv = new LinkedHashMap<>();
            instructions.stream().filter(e -> e.getKey().equals(instruction)).forEach(e -> {
                Matcher m = KEY_VALUE.matcher(e.getValue());
                while (m.find()) {
                    String v = m.group(2);
                    kv.put(m.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
                }
            });
            return kv;
        }

        String env(String name) {
            return keyValues("ENV").getOrDefault(name, "");
        }

        Map<String, String> labels() {
            return keyValues("LABEL");
        }

        /** Expands ${NAME} from the ARG defaults declared before FROM. */
        String resolve(String value) {
            Map<String, String> args = keyValues("ARG");
            Matcher m = Pattern.compile("\\$\\{(\\w+)}").matcher(value);
            StringBuilder sb = new StringBuilder();
            while (m.find()) {
                m.appendReplacement(sb, Matcher.quoteReplacement(args.getOrDefault(m.group(1), m.group())));
            }
            return m.appendTail(sb).toString();
        }
    }
}
