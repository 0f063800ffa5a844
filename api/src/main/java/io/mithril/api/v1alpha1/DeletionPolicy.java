package io.mithril.api.v1alpha1;

/** What happens to a CompileCache's entries on the nodes when the resource is deleted. */
public enum DeletionPolicy {
    /** Entries stay and age out under LRU eviction; a CompileCache of the same name finds them again. */
    Retain,
    /** Node agents delete the cache's entries from every node. */
    Delete
}
