package io.mithril.agent.index;

import io.mithril.agent.key.GroupId;
import io.mithril.agent.key.Names;

/** An entry's identity: its group and its name inside the group (e.g. {@code triton/ABC/}). */
public record EntryKey(GroupId group, String name) {
    public EntryKey {
        Names.checkRelativePath("entry name", name, true);
    }

    @Override
    public String toString() {
        return group.text() + ":" + name;
    }
}
