package io.mithril.agent.volume;

import io.mithril.agent.cas.Address;
import io.mithril.agent.fs.FileNames;
import io.mithril.agent.index.EntryKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Knowing what a workload read, from access times (docs/volumes.md, "the relatime probe"). Linux's
 * default {@code relatime} updates a file's atime on the first read after its atime was set at or
 * below its mtime: arming sets atime = mtime - 1 s, and a file read since has atime > mtime.
 *
 * <p>Linked files share their inode with the blob and with other views; before re-arming such a file
 * the probe records a read that happened since the last arming (by blob), so a view published later
 * does not erase an earlier view's reads.
 */
final class UseProbe {

    /** Latest read seen on a linked blob before it was re-armed, by address (millis). */
    private final Map<Address, Long> readsBeforeRearm = new ConcurrentHashMap<>();

    /**
     * Arms a file just linked to {@code address}'s blob: records a read since its last arming, then
     * re-arms it; a file armed and unread is left as it is (other views rely on the same inode).
     */
    void armLinked(Path target, Address address, BasicFileAttributes attrs) throws IOException {
        long atime = attrs.lastAccessTime().toMillis();
        long mtime = attrs.lastModifiedTime().toMillis();
        if (atime > mtime) {
            readsBeforeRearm.merge(address, atime, Math::max); // read since the last arming
            arm(target, mtime);
        } else if (atime >= mtime - 500) {
            arm(target, mtime); // never armed
        }
    }

    /** Sets atime a second below mtime, so that relatime records the next read. mtime is untouched. */
    static void arm(Path p, long mtimeMillis) throws IOException {
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(null, FileTime.fromMillis(mtimeMillis - 1000), null);
    }

    /**
     * Copies a blob into a view without the copy's read counting as a use: the blob's inode is shared
     * with linked views, whose use probe is its access time. An armed, unread blob (atime at or below
     * mtime) gets its access time back after the copy. Plain Java on purpose: loading the native layer
     * costs a warm {@code exec} hundreds of milliseconds, and a warm publish reads nothing else. A
     * workload's read in the few microseconds between is then lost: a miss counted, never a false hit.
     */
    static void copyUnread(Path blob, Path target) throws IOException {
        BasicFileAttributes before = Files.readAttributes(blob, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        Files.copy(blob, target, StandardCopyOption.REPLACE_EXISTING, LinkOption.NOFOLLOW_LINKS);
        if (before.lastAccessTime().compareTo(before.lastModifiedTime()) <= 0) {
            try {
                Files.getFileAttributeView(blob, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setTimes(null, before.lastAccessTime(), null);
            } catch (IOException notOurs) {
                // a blob this process may not touch: its probe may read as used
            }
        }
    }

    /**
     * The published entries the workload read since publishing: any of an entry's files has an atime
     * after the view was published, or (for a shared inode) a read recorded before a later re-arming.
     */
    Set<EntryKey> readEntries(View v) {
        Set<EntryKey> used = new HashSet<>();
        Set<EntryKey> published = new HashSet<>(v.entries());
        long since = v.publishedAtMillis() - 5;
        for (Map.Entry<String, View.Published> f : v.files().entrySet()) {
            View.Published p = f.getValue();
            if (used.contains(p.entry()) || !published.contains(p.entry()) || p.ingested()) {
                continue; // a file the workload wrote over a published one: ingest's own read moved its atime
            }
            Path path = FileNames.resolve(v.dir(), f.getKey());
            try {
                BasicFileAttributes a =
                        Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                boolean sameFile = a.isRegularFile() && Objects.equals(a.fileKey(), p.fileKey());
                long atime = a.lastAccessTime().toMillis();
                if (sameFile && atime > a.lastModifiedTime().toMillis() && atime >= since) {
                    used.add(p.entry());
                    continue;
                }
            } catch (IOException gone) {
                // replaced or removed by the workload
            }
            if (p.linked() && readsBeforeRearm.getOrDefault(p.address(), 0L) >= since) {
                used.add(p.entry());
            }
        }
        return used;
    }
}
