package io.mithril.agent.kube;

/**
 * What {@link PodVolumes#recover} does with a view folder or pod record an earlier run of the agent
 * left, from the record, the pod's facts (null when the pod is gone or not served here) and what is
 * on disk. Every pod is NEW when recovery starts; {@link #leaves} is the state it ends in.
 */
enum Recovery {

    /** The pod runs and its view is whole: adopted. */
    ADOPT(PodState.LIVE),
    /** The pod runs, still in its wait step, its publish cut short: the folder is emptied for {@code observe} to publish. */
    REPUBLISH(PodState.NEW),
    /** The pod runs with no whole view: it runs cold in its folder, or has none yet; only its end is the agent's. */
    LEAVE(PodState.NEW),
    /** The pod ended or is gone and its view folder is there: adopted and finished (a last pass, unpublish). */
    FINISH(PodState.DONE),
    /** The pod ended or is gone, no record or no folder: what is left (folder unless kubelet's, record) is removed. */
    REMOVE(PodState.NEW);

    private final PodState leaves;

    Recovery(PodState leaves) {
        this.leaves = leaves;
    }

    /** The state the pod is in once this is done. */
    PodState leaves() {
        return leaves;
    }

    /**
     * {@code record}: the pod's record, null when there is none or it is not to be acted on;
     * {@code viewReady}: the record's folder holds a whole view (its marker); {@code folder}: the
     * record's folder (or, with no record, the pod's folder under the volumes hostPath) is a real folder.
     */
    static Recovery of(PodRecord record, PodFacts pod, boolean viewReady, boolean folder) {
        boolean runs = pod != null && !pod.terminal();
        if (runs) {
            if (record == null) {
                return LEAVE;
            }
            if (viewReady) {
                return ADOPT;
            }
            return !pod.waitStepEnded() && folder ? REPUBLISH : LEAVE;
        }
        return record != null && folder ? FINISH : REMOVE;
    }
}
