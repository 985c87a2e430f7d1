"""Who may run which tool where: a default-deny policy read from a YAML file.

With no policy file only the local terminal user may run anything. With one, a request
(from Slack, or from `jdebug run`) runs only if some rule matches its subject, cluster,
namespace and tool; the
first such rule (in file order) is recorded in the decision. `examples/policy.yaml` is a
commented example. The format:

    contact: "<#C012AB3CD|platform-oncall>"   # named in every denial (Slack mrkdwn works)
    rules:
      - name: oncall-read                     # optional, shown in decisions and audit
        description: free text                # optional
        subjects: {users: [U123], groups: [S456], channels: [C789], terminal_users: [alice]}
        clusters: ["*"]                       # optional; default every cluster
        namespaces: ["prod-*", "!kube-*"]     # fnmatch globs; a "!" exclude wins
        tools: [read-only, "!histo"]          # names/aliases, read-only, all, *; "!" excludes

- Subjects are Slack IDs (users U…/W…, user groups S…, channels C…/G…/D…) and OS user names
  for `jdebug run` (`terminal_users`); `"*"` in any list, or `subjects: "*"`, means everyone.
- `read-only`, `all` and `*` grant every catalog tool that is not mutating. A mutating tool
  is granted only where a rule names it.
- A list of only excludes means "everything but these".
- Quote `"*"` and `"!…"`: unquoted, YAML reads them as an alias and as a tag.
- A request that leaves the namespace (or cluster) unset matches only rules that allow
  every namespace (or cluster); the denial then tells the user to name it.
- Any problem (an unknown key or tool, a name where an ID belongs, bad YAML) is a
  `PolicyError` that names the file and line. `PolicyWatcher` reloads the file when it
  changes and keeps the previous policy if the new one is invalid.
"""

from bot.access.policy.decisions import Decision, Policy
from bot.access.policy.loading import PolicyError
from bot.access.policy.rules import GlobSet, Rule
from bot.access.policy.watching import PolicyWatcher

__all__ = ["Decision", "GlobSet", "Policy", "PolicyError", "PolicyWatcher", "Rule"]
