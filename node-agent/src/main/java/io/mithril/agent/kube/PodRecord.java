package io.mithril.agent.kube;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.volume.PublishMode;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * What a pod's view is, as recorded under {@code <store>/pods/<uid>} before publishing, outside the
 * pod's reach, so that an agent restarted meanwhile can adopt or finish it.
 *
 * <p>Format: a version line ({@link #HEADER}), then one line each: group, frameworks (their folder
 * names, comma-separated), publish mode, view folder, whether the folder is kubelet's (kept). Agents
 * upgrade in place, so the format before the version line (the same five lines without it) is read too.
 *
 * @param keepFolder the folder is kubelet's emptyDir: emptied at the end, never removed
 */
record PodRecord(GroupId group, Set<Framework> frameworks, PublishMode mode, Path dir, boolean keepFolder) {

    static final String HEADER = "mithril-pod-record 1";

    String text() {
        StringBuilder fw = new StringBuilder();
        for (Framework f : frameworks) {
            fw.append(fw.length() == 0 ? "" : ",").append(f.dir());
        }
        return HEADER + "\n" + group.text() + "\n" + fw + "\n" + mode.name() + "\n" + dir + "\n" + keepFolder + "\n";
    }

    /** Reads a record in this format or the unversioned one before it; throws on anything else. */
    static PodRecord parse(List<String> lines) {
        List<String> body;
        if (!lines.isEmpty() && lines.get(0).equals(HEADER)) {
            body = lines.subList(1, lines.size());
        } else if (!lines.isEmpty() && lines.get(0).startsWith("mithril-pod-record ")) {
            throw new IllegalArgumentException("a pod record of a newer format: " + lines.get(0));
        } else {
            body = lines; // written by an agent before the version line
        }
        if (body.size() < 5) {
            throw new IllegalArgumentException("a pod record of " + body.size() + " lines, not 5");
        }
        String keep = body.get(4);
        if (!keep.equals("true") && !keep.equals("false")) {
            throw new IllegalArgumentException("a pod record's last line is not true or false: " + keep);
        }
        return new PodRecord(
                GroupId.parse(body.get(0)),
                Framework.parseList(body.get(1)),
                PublishMode.valueOf(body.get(2)),
                Path.of(body.get(3)),
                Boolean.parseBoolean(keep));
    }
}
