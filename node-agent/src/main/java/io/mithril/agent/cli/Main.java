package io.mithril.agent.cli;

import io.mithril.agent.exec.ExecClient;

/**
 * The agent's entry point. An {@code exec} first asks a resident agent on its root to prepare the
 * run ({@link ExecClient}); everything else, and an {@code exec} no agent takes, is {@link AgentMain}.
 * Kept apart from {@code AgentMain} so that an {@code exec} the agent serves never loads picocli.
 */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        int code = ExecClient.run(args);
        if (code >= 0) {
            System.exit(code);
        }
        AgentMain.main(args);
    }
}
