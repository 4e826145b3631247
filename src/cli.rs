//! The command line: every command, flag and help text of `ss`, as clap derive types.
//!
//! This module only describes and parses the command line; `commands/` runs it.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success; with --detailed-exitcode: no changes (or no drift)
  1  error (invalid spec, failed resource, refused plan, lock held, ...)
  2  with --detailed-exitcode: success, and changes (or drift) are present

Environment:
  SS_LOG          log filter for diagnostics on stderr (default \"warn\"; e.g. \"ss=debug\")
  SS_VAR_<name>   value of variable <name> (overridden by --var and --var-file)
  SS_SANDBOX_DIR  where the built-in sandbox cloud keeps its objects
  SS_WORKSPACE    the workspace to use (as --workspace)
  SS_STATE_KEY    passphrase encrypting the state and saved plans at rest
  SS_PG_CONN      PostgreSQL connection for a postgres backend without `conn`
  NO_COLOR        disables colour when set to a non-empty value

Examples:
  ss validate examples/superset-sandbox          check a spec
  ss plan examples/superset-sandbox --out p.plan  review the changes, save the plan
  ss apply p.plan                                 apply exactly the reviewed plan
  ss diff --detailed-exitcode                     CI drift check: exit 2 on drift
  ss destroy --auto-approve                       remove everything the state knows

Run `ss <command> --help` for a command's description and examples.";

/// A declarative provisioner for production analytics stacks.
///
/// `ss` reads an HCL spec (every `*.hcl` file of a directory), turns it into a dependency graph
/// of cloud resources and converges the cloud to it, keeping what it manages in a locked,
/// versioned state.
#[derive(Debug, Parser)]
#[command(name = "ss", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Never colour the output (also set by a non-empty NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// More log output on stderr: -v for info, -vv for debug (SS_LOG takes precedence).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The workspace to use: each has its own state and lock (default: the one `ss workspace
    /// select` chose, else `default`).
    #[arg(long, global = true, env = "SS_WORKSPACE", value_name = "NAME")]
    pub workspace: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether text written to stdout may carry colour.
    pub fn color_stdout(&self) -> bool {
        color_allowed(self.no_color) && std::io::stdout().is_terminal()
    }

    /// Whether text written to stderr may carry colour.
    pub fn color_stderr(&self) -> bool {
        color_allowed(self.no_color) && std::io::stderr().is_terminal()
    }
}

/// False when the user asked for no colour, by flag or by a non-empty `NO_COLOR`
/// (<https://no-color.org>).
pub fn color_allowed(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec for errors without touching state or the cloud.
    #[command(
        long_about = "Check a spec for errors without touching state or the cloud.\n\n\
            Loads every *.hcl file of DIR, evaluates variables, locals, count and for_each, \
            checks every resource against its schema and builds the dependency graph. Every \
            problem found is reported with its FILE:LINE:COL and a source snippet; the command \
            exits 1 if there is any error.",
        after_help = "Examples:\n  \
            ss validate\n  \
            ss validate examples/superset-sandbox"
    )]
    Validate(ValidateArgs),

    /// Rewrite spec files in the canonical format.
    #[command(
        long_about = "Rewrite spec files in the canonical format.\n\n\
            Normalises indentation and aligns the `=` of consecutive attributes in every *.hcl \
            file of DIR, in place. With --check nothing is written: the files that would change \
            are listed and the command exits 1 if there is any (useful in CI).",
        after_help = "Examples:\n  \
            ss fmt\n  \
            ss fmt examples/superset-sandbox\n  \
            ss fmt --check ."
    )]
    Fmt(FmtArgs),

    /// Show what apply would change, without changing anything.
    #[command(
        long_about = "Show what apply would change, without changing anything.\n\n\
            Evaluates the spec in DIR, refreshes the objects recorded in state from the cloud \
            (batched per type), and prints the difference: resources to create (+), update in \
            place (~), replace (-/+) and destroy (-), attribute by attribute. Sensitive values \
            are never shown. With --out the plan is saved to a file that `ss apply FILE` \
            executes exactly; it is refused if the state changed in between.",
        after_help = "Examples:\n  \
            ss plan\n  \
            ss plan examples/superset-sandbox --var users=20000 --out superset.plan\n  \
            ss plan --detailed-exitcode --json > plan.json   # CI: exit 2 when there are changes\n  \
            ss plan --target postgres.meta --refresh=false"
    )]
    Plan(PlanArgs),

    /// Create, update and delete resources so the cloud matches the spec.
    #[command(
        long_about = "Create, update and delete resources so the cloud matches the spec.\n\n\
            Given a directory, makes a fresh plan, shows it and asks for confirmation (on a \
            terminal; without one, --auto-approve is required). Given a plan file saved by \
            `ss plan --out`, executes exactly that plan. Resources start as soon as their \
            dependencies are done; state is saved after each one. If a resource fails, \
            independent branches continue, its dependents are skipped and the command exits 1.",
        after_help = "Examples:\n  \
            ss apply\n  \
            ss apply examples/superset-sandbox --auto-approve\n  \
            ss apply superset.plan\n  \
            ss apply --var users=20000 --auto-approve --json"
    )]
    Apply(ApplyArgs),

    /// Delete every resource the state knows.
    #[command(
        long_about = "Delete every resource the state knows.\n\n\
            Plans the deletion of everything recorded in the state of DIR (or only the \
            --target addresses and what depends on them), shows it, asks for confirmation and \
            deletes in reverse dependency order. Resources with lifecycle { prevent_destroy = \
            true } make the plan fail.",
        after_help = "Examples:\n  \
            ss destroy\n  \
            ss destroy examples/superset-sandbox --auto-approve\n  \
            ss destroy --target cdn.static"
    )]
    Destroy(DestroyArgs),

    /// Report objects that changed outside ss (drift).
    #[command(
        long_about = "Report objects that changed outside ss (drift).\n\n\
            Reads every object recorded in the state of DIR from the cloud and compares it with \
            what the state recorded: changed attributes and deleted objects are listed. Nothing \
            is written. With --detailed-exitcode the command exits 2 when there is drift; `ss \
            apply` brings the objects back to the spec.",
        after_help = "Examples:\n  \
            ss diff\n  \
            ss diff examples/superset-sandbox --detailed-exitcode\n  \
            ss diff --json"
    )]
    Diff(DiffArgs),

    /// Show a saved plan, or the current state.
    #[command(
        long_about = "Show a saved plan, or the current state.\n\n\
            With PLANFILE, renders the plan saved by `ss plan --out` as text (like `ss plan`) or \
            JSON. Without it, shows every resource of the current state of --dir. Sensitive \
            values are shown as (sensitive value).",
        after_help = "Examples:\n  \
            ss show superset.plan\n  \
            ss show superset.plan --json\n  \
            ss show --dir examples/superset-sandbox"
    )]
    Show(ShowArgs),

    /// Print the values of outputs.
    #[command(
        long_about = "Print the values of outputs.\n\n\
            Without NAME, prints every output of the state of DIR, sensitive ones as (sensitive \
            value). With NAME, prints that output's value alone, raw (strings without quotes), \
            even when it is sensitive, so it can be used in scripts.",
        after_help = "Examples:\n  \
            ss output\n  \
            ss output db_endpoint\n  \
            ss output --json examples/superset-sandbox\n  \
            ss output db_password --dir examples/superset-sandbox"
    )]
    Output(OutputArgs),

    /// Inspect and edit the state.
    #[command(
        subcommand,
        long_about = "Inspect and edit the state.\n\n\
            The state records every native resource ss manages (address, cloud id, attributes). \
            These commands read it, or change it without touching the cloud: `rm` forgets \
            resources, `mv` renames them after a block is renamed in the spec. Changes take the \
            state lock like apply does.",
        after_help = "Examples:\n  \
            ss state list\n  \
            ss state show postgres.meta.sandbox_pg_instance.primary\n  \
            ss state mv sandbox_object.a sandbox_object.b"
    )]
    State(StateCommand),

    /// Manage workspaces: one spec, many independent states.
    #[command(
        subcommand,
        long_about = "Manage workspaces: one spec, many independent states.\n\n\
            Each workspace has its own state and lock in the spec's backend, so one spec can \
            serve many tenants, stages or regions. In the spec, `ss.workspace` is the \
            workspace's name (use it in names and sizes). Select one per command with \
            --workspace NAME or SS_WORKSPACE, or remember one with `ss workspace select`.",
        after_help = "Examples:\n  \
            ss workspace new acme\n  \
            ss apply --workspace acme --auto-approve\n  \
            SS_WORKSPACE=acme ss plan\n  \
            ss workspace list --json"
    )]
    Workspace(WorkspaceCommand),

    /// Bring an existing cloud object under management.
    #[command(
        long_about = "Bring an existing cloud object under management.\n\n\
            Reads the object with cloud id ID through the provider and records it at ADDR in \
            the state, without changing the cloud. ADDR must be declared by the spec: a \
            native resource block (`sandbox_object.legacy`) or one native resource of a \
            component (`postgres.meta.sandbox_pg_instance.primary`). Run `ss plan` afterwards \
            to see how the object differs from the spec.",
        after_help = "Examples:\n  \
            ss import sandbox_object.legacy obj-3f2a\n  \
            ss import --workspace acme postgres.meta.sandbox_pg_instance.primary pg-0001"
    )]
    Import(ImportArgs),

    /// Release a state lock left by a process that cannot release it.
    #[command(
        long_about = "Release a state lock left by a process that cannot release it.\n\n\
            PostgreSQL and S3 locks are leases: a holder that dies stops renewing its lease \
            and the lock frees itself when the lease expires (30 s by default). To free it \
            sooner, name the lock id shown in the `state is locked by …; lock id ID` message: \
            a lock taken since by someone else is never broken by mistake. A local file lock \
            is released by the system when its holder exits, so it never needs this.",
        after_help = "Examples:\n  \
            ss force-unlock 6f1c2a9e-0b7d-4d3e-9a51-2b7f0e6d3c11\n  \
            ss force-unlock --workspace acme 6f1c2a9e-0b7d-4d3e-9a51-2b7f0e6d3c11"
    )]
    ForceUnlock(ForceUnlockArgs),

    /// Print the dependency graph in DOT format.
    #[command(
        long_about = "Print the dependency graph in DOT format.\n\n\
            Evaluates the spec in DIR and prints its resource graph (references and depends_on \
            edges, with each component's native resources) in Graphviz DOT, to pipe into `dot`.",
        after_help = "Examples:\n  \
            ss graph\n  \
            ss graph examples/superset-sandbox | dot -Tsvg > graph.svg"
    )]
    Graph(GraphArgs),

    /// Inspect and edit the built-in sandbox cloud.
    #[command(
        subcommand,
        long_about = "Inspect and edit the built-in sandbox cloud.\n\n\
            The sandbox is a simulated cloud kept in a directory, independent of the state. \
            `list` shows what exists in it; `set` changes an object behind ss's back, to \
            rehearse drift detection with `ss diff`.",
        after_help = "Examples:\n  \
            ss sandbox list\n  \
            ss sandbox list --json\n  \
            ss sandbox set obj-3f2a input=changed"
    )]
    Sandbox(SandboxCommand),
}

/// `--var` and `--var-file`, shared by the commands that evaluate a spec.
#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: NAME=VALUE (repeatable; overrides --var-file and SS_VAR_NAME).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub vars: Vec<(String, String)>,

    /// Read variables from an HCL file of `name = value` lines (repeatable; later files win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// `--target` and `--exclude`.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Only plan this address and what it depends on (repeatable): a block (`postgres.meta`),
    /// an instance (`sandbox_object.item[2]`) or a native resource.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,

    /// Leave this address and what depends on it out of the plan (repeatable).
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Write nothing; list the files that are not formatted and exit 1 if there is any.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Save the plan to FILE, for `ss apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Print the plan as JSON (format_version "1") instead of text.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// Read the real objects before planning; `--refresh=false` plans against the state alone.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The spec directory, or a plan file saved by `ss plan --out`.
    #[arg(value_name = "DIR|PLANFILE", default_value = ".")]
    pub path: PathBuf,

    /// Apply without asking for confirmation (required without a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// At most N provider operations at once (default: bounded only by the graph and each
    /// provider's rate limits).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<NonZeroUsize>,

    /// Print progress as JSON lines on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Destroy without asking for confirmation (required without a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// At most N provider operations at once.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<NonZeroUsize>,

    /// Print progress as JSON lines on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Exit 2 when there is drift, 0 when there is none.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Print the drift as JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file saved by `ss plan --out`; without it, the current state is shown.
    pub planfile: Option<PathBuf>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// The spec directory whose state is shown when there is no PLANFILE.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    /// Read this state file instead of the spec's backend.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The output to print; without it, every output is printed.
    pub name: Option<String>,

    /// The spec directory (same as --dir).
    #[arg(value_name = "DIR", conflicts_with = "dir_flag")]
    pub dir_arg: Option<PathBuf>,

    /// The spec directory, for listing every output of another directory.
    #[arg(long = "dir", id = "dir_flag", value_name = "DIR")]
    pub dir_flag: Option<PathBuf>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Read this state file instead of the spec's backend.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

impl OutputArgs {
    /// The spec directory, from the positional argument or `--dir`, "." by default.
    pub fn dir(&self) -> PathBuf {
        self.dir_arg
            .clone()
            .or_else(|| self.dir_flag.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List every resource in the state, one native resource per line.
    #[command(
        long_about = "List every resource in the state, one native resource per line.\n\n\
            Prints the address of every native resource recorded in the state of DIR. With \
            --json, prints an array of objects with address, type, id (the cloud id), \
            block_type and provider.",
        after_help = "Examples:\n  \
            ss state list\n  \
            ss state list --json examples/superset-sandbox"
    )]
    List(StateListArgs),

    /// Show one resource of the state with its attributes.
    #[command(
        long_about = "Show one resource of the state with its attributes.\n\n\
            Prints the recorded attributes of the native resource at ADDR; sensitive \
            attributes are shown as (sensitive value).",
        after_help = "Examples:\n  \
            ss state show sandbox_object.a\n  \
            ss state show postgres.meta.sandbox_pg_instance.primary --dir examples/superset-sandbox"
    )]
    Show(StateShowArgs),

    /// Forget resources without deleting them from the cloud.
    #[command(
        long_about = "Forget resources without deleting them from the cloud.\n\n\
            Removes the records of ADDR (a native resource, a component instance or a whole \
            block) from the state. The cloud objects are left alone: a later `ss plan` will \
            want to create them again unless the spec drops them.",
        after_help = "Examples:\n  \
            ss state rm sandbox_object.a\n  \
            ss state rm postgres.meta redis_cluster.cache"
    )]
    Rm(StateRmArgs),

    /// Move a resource to another address (after renaming it in the spec).
    #[command(
        long_about = "Move a resource to another address (after renaming it in the spec).\n\n\
            Renames the records at SRC to DST in the state, so that renaming a block in the \
            spec does not destroy and recreate its objects. SRC may be a native resource or a \
            component instance (all its native resources move).",
        after_help = "Examples:\n  \
            ss state mv sandbox_object.a sandbox_object.b\n  \
            ss state mv postgres.meta postgres.metadata"
    )]
    Mv(StateMvArgs),

    /// Write the whole state to a file (or print it, sensitive values removed).
    #[command(
        long_about = "Write the whole state to a file (or print it, sensitive values removed).\n\n\
            With --out FILE, writes the state of the selected workspace, journal folded in, \
            to FILE (mode 0600; encrypted when a key is set, as the backend stores it). \
            Without --out, prints it as JSON with every sensitive value replaced by null: \
            for reading, not for `state push`.",
        after_help = "Examples:\n  \
            ss state pull --out backup.json\n  \
            ss state pull | jq '.resources | length'"
    )]
    Pull(StatePullArgs),

    /// Replace the stored state with a file written by `state pull --out`.
    #[command(
        long_about = "Replace the stored state with a file written by `state pull --out`.\n\n\
            The file must continue the stored state: the same lineage and a newer serial, so \
            that a stale copy never overwrites newer work. --force writes it anyway, as the \
            stored state's successor.",
        after_help = "Examples:\n  \
            ss state push backup.json\n  \
            ss state push --force restored.json"
    )]
    Push(StatePushArgs),

    /// Copy every workspace's state to another backend.
    #[command(
        long_about = "Copy every workspace's state to another backend.\n\n\
            TARGET is a PostgreSQL connection string (postgres://…, the tables go in \
            --schema), an S3 location (s3://BUCKET/KEY, credentials and endpoint from the AWS \
            environment) or a local state file path. Each workspace is copied with both \
            sides locked; a workspace that already holds a state at the target is refused. \
            Then point `ss { backend … }` at the target.",
        after_help = "Examples:\n  \
            ss state migrate --to postgres://ss@db.internal:5432/ss\n  \
            ss state migrate --to s3://acme-state/superset/ss.state.json\n  \
            ss state migrate --to ../shared/ss.state.json"
    )]
    Migrate(StateMigrateArgs),

    /// Re-encrypt the state under the current key (or encrypt it for the first time).
    #[command(
        name = "migrate-encryption",
        long_about = "Re-encrypt the state under the current key (or encrypt it for the first time).\n\n\
            Reads the selected workspace's state with the old passphrase (from the variable \
            named by --old-key-env; none for a plaintext state) and writes it back sealed \
            with the current one (SS_STATE_KEY or `ss { encryption { key_env } }`), or in \
            plaintext when no key is set.",
        after_help = "Examples:\n  \
            ss state migrate-encryption                      (SS_STATE_KEY set: encrypt a plaintext state)\n  \
            ss state migrate-encryption --old-key-env OLD    (OLD = old passphrase, SS_STATE_KEY = new)"
    )]
    MigrateEncryption(StateMigrateEncryptionArgs),
}

#[derive(Debug, Args)]
pub struct StatePullArgs {
    /// Write the full state here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatePushArgs {
    /// A state file written by `ss state pull --out`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Write it even if it does not continue the stored state.
    #[arg(long)]
    pub force: bool,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct StateMigrateArgs {
    /// Where to copy the states: postgres://…, s3://BUCKET/KEY or a file path.
    #[arg(long, value_name = "TARGET")]
    pub to: String,

    /// The PostgreSQL schema at the target.
    #[arg(long, default_value = "ss")]
    pub schema: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct StateMigrateEncryptionArgs {
    /// The environment variable holding the passphrase the state is encrypted with now.
    #[arg(long, value_name = "VAR")]
    pub old_key_env: Option<String>,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// List the workspaces, marking the selected one with `*`.
    #[command(
        long_about = "List the workspaces, marking the selected one with `*`.\n\n\
            Lists every workspace with a stored state in the spec's backend, `default` first. \
            With --json, prints an array of names.",
        after_help = "Examples:\n  ss workspace list\n  ss workspace list --json --dir stacks/superset"
    )]
    List(WorkspaceListArgs),

    /// Print the selected workspace.
    #[command(
        long_about = "Print the selected workspace.\n\n\
            The workspace commands use: --workspace or SS_WORKSPACE when given, else the one \
            `ss workspace select` remembered for the spec directory, else `default`.",
        after_help = "Examples:\n  ss workspace show\n  ss workspace show --dir stacks/superset"
    )]
    Show(WorkspaceDirArgs),

    /// Create a workspace (an empty state) in the spec's backend.
    #[command(
        long_about = "Create a workspace (an empty state) in the spec's backend.\n\n\
            A workspace must be created before it is planned or applied, so that a mistyped \
            name never provisions a new tenant. Its cloud objects are named from the stack \
            and the workspace, so two workspaces never share an object.",
        after_help = "Examples:\n  ss workspace new acme\n  ss workspace new tenant-042 --dir stacks/superset"
    )]
    New(WorkspaceNameArgs),

    /// Remember a workspace as the one to use in this spec directory.
    #[command(
        long_about = "Remember a workspace as the one to use in this spec directory.\n\n\
            Writes the name to .ss/workspace beside the spec; --workspace and SS_WORKSPACE \
            still take precedence.",
        after_help = "Examples:\n  ss workspace select acme\n  ss workspace select default"
    )]
    Select(WorkspaceNameArgs),

    /// Delete a workspace whose state holds no resources.
    #[command(
        long_about = "Delete a workspace whose state holds no resources.\n\n\
            Destroy its resources first (`ss destroy --workspace NAME`); a workspace that \
            still records resources is refused, so nothing in the cloud is ever left \
            unrecorded. `default` cannot be deleted.",
        after_help = "Examples:\n  ss workspace delete acme\n  ss destroy --workspace acme --auto-approve && ss workspace delete acme"
    )]
    Delete(WorkspaceNameArgs),
}

#[derive(Debug, Args)]
pub struct WorkspaceListArgs {
    /// Print a JSON array of names.
    #[arg(long)]
    pub json: bool,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct WorkspaceDirArgs {
    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct WorkspaceNameArgs {
    /// The workspace: 1 to 64 letters, digits, `_` or `-`.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where to record the object: a native address the spec declares.
    #[arg(value_name = "ADDR")]
    pub address: String,

    /// The object's cloud id.
    #[arg(value_name = "ID")]
    pub id: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id from the `state is locked` message.
    #[arg(value_name = "LOCK_ID")]
    pub id: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// Where the state is: the spec directory's backend, or an explicit file.
#[derive(Debug, Args, Clone)]
pub struct StateLocation {
    /// Use this state file instead of the spec's backend.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StateListArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Print a JSON array instead of one address per line.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub location: StateLocation,
}

#[derive(Debug, Args)]
pub struct StateShowArgs {
    /// The native resource address.
    #[arg(value_name = "ADDR")]
    pub address: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub location: StateLocation,
}

#[derive(Debug, Args)]
pub struct StateRmArgs {
    /// The addresses to forget.
    #[arg(value_name = "ADDR", required = true)]
    pub addresses: Vec<String>,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub location: StateLocation,
}

#[derive(Debug, Args)]
pub struct StateMvArgs {
    /// The current address.
    #[arg(value_name = "SRC")]
    pub source: String,

    /// The new address.
    #[arg(value_name = "DST")]
    pub destination: String,

    /// The spec directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub location: StateLocation,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The spec directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// List the objects of the sandbox cloud.
    #[command(
        long_about = "List the objects of the sandbox cloud.\n\n\
            Prints every object that exists in the built-in simulated cloud, whoever created \
            it. With --json, prints an array of objects with id, type and attributes.",
        after_help = "Examples:\n  \
            ss sandbox list\n  \
            ss sandbox list --json --dir examples/superset-sandbox/.ss/sandbox"
    )]
    List(SandboxListArgs),

    /// Change attributes of a sandbox object behind ss's back (to create drift).
    #[command(
        long_about = "Change attributes of a sandbox object behind ss's back (to create drift).\n\n\
            Edits the object ID of the sandbox cloud directly, as someone using the cloud \
            console would. VALUE is parsed as JSON when it is valid JSON (numbers, booleans, \
            lists), else taken as a string. `ss diff` then reports the drift and `ss apply` \
            reverts it.",
        after_help = "Examples:\n  \
            ss sandbox set obj-3f2a input=changed\n  \
            ss sandbox set pg-91c0 size='\"xlarge\"' storage_gb=200 --dir .ss/sandbox"
    )]
    Set(SandboxSetArgs),
}

#[derive(Debug, Args)]
pub struct SandboxListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    /// The sandbox cloud directory (default: $SS_SANDBOX_DIR, else .ss/sandbox).
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SandboxSetArgs {
    /// The object id (as shown by `ss sandbox list`).
    #[arg(value_name = "ID")]
    pub id: String,

    /// The attributes to set.
    #[arg(value_name = "KEY=VALUE", required = true, value_parser = parse_key_value)]
    pub assignments: Vec<(String, String)>,

    /// The sandbox cloud directory (default: $SS_SANDBOX_DIR, else .ss/sandbox).
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
}

/// Parses `KEY=VALUE`; the value may contain `=` and may be empty, the key may not.
fn parse_key_value(input: &str) -> Result<(String, String), String> {
    let (key, value) = input
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {input:?} (no '=')"))?;
    let key = key.trim();
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "expected KEY=VALUE where KEY is a name (letters, digits, '_', '-'), got {input:?}"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ss").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plan_flags() {
        let cli = parse(&[
            "plan",
            "stack",
            "--out",
            "p.plan",
            "--detailed-exitcode",
            "--var",
            "users=20000",
            "--var",
            "tag=a=b",
            "--var-file",
            "prod.hcl",
            "--target",
            "postgres.meta",
            "--exclude",
            "cdn.static",
            "--refresh=false",
        ])
        .expect("parses");
        let Command::Plan(p) = cli.command else {
            unreachable!("not plan: {:?}", cli.command)
        };
        assert_eq!(p.dir, PathBuf::from("stack"));
        assert_eq!(p.out, Some(PathBuf::from("p.plan")));
        assert!(p.detailed_exitcode && !p.json && !p.refresh);
        assert_eq!(
            p.vars.vars,
            vec![
                ("users".to_string(), "20000".to_string()),
                ("tag".to_string(), "a=b".to_string())
            ]
        );
        assert_eq!(p.vars.var_files, vec![PathBuf::from("prod.hcl")]);
        assert_eq!(p.targets.targets, vec!["postgres.meta"]);
        assert_eq!(p.targets.excludes, vec!["cdn.static"]);
    }

    #[test]
    fn defaults_to_current_directory_and_refresh() {
        let cli = parse(&["plan"]).expect("parses");
        let Command::Plan(p) = cli.command else {
            unreachable!("not plan")
        };
        assert_eq!(p.dir, PathBuf::from("."));
        assert!(p.refresh);
        let cli = parse(&["plan", "--refresh"]).expect("parses");
        let Command::Plan(p) = cli.command else {
            unreachable!("not plan")
        };
        assert!(p.refresh);
    }

    #[test]
    fn var_without_equals_is_an_error() {
        let err = parse(&["plan", "--var", "users"]).expect_err("must fail");
        assert!(err.to_string().contains("expected KEY=VALUE"), "{err}");
        assert!(parse(&["apply", "--var", "=3"]).is_err());
    }

    #[test]
    fn apply_and_destroy() {
        let cli =
            parse(&["apply", "my.plan", "--auto-approve", "--parallelism", "4"]).expect("parses");
        let Command::Apply(a) = cli.command else {
            unreachable!("not apply")
        };
        assert_eq!(a.path, PathBuf::from("my.plan"));
        assert!(a.auto_approve);
        assert_eq!(a.parallelism.map(NonZeroUsize::get), Some(4));
        assert!(parse(&["apply", "--parallelism", "0"]).is_err());
        let cli = parse(&["destroy", "--target", "postgres.meta"]).expect("parses");
        let Command::Destroy(d) = cli.command else {
            unreachable!("not destroy")
        };
        assert_eq!(d.dir, PathBuf::from("."));
        assert!(!d.auto_approve);
        assert_eq!(d.targets.targets, vec!["postgres.meta"]);
    }

    #[test]
    fn output_directory_forms() {
        let cli = parse(&["output"]).expect("parses");
        let Command::Output(o) = cli.command else {
            unreachable!("not output")
        };
        assert_eq!((o.name, o.dir_arg.is_none()), (None, true));
        let cli = parse(&["output", "db", "stack", "--json"]).expect("parses");
        let Command::Output(o) = cli.command else {
            unreachable!("not output")
        };
        assert_eq!(o.name.as_deref(), Some("db"));
        assert_eq!(o.dir(), PathBuf::from("stack"));
        let cli = parse(&["output", "--dir", "stack"]).expect("parses");
        let Command::Output(o) = cli.command else {
            unreachable!("not output")
        };
        assert_eq!(o.dir(), PathBuf::from("stack"));
        assert_eq!(o.name, None);
        assert!(parse(&["output", "db", "a", "--dir", "b"]).is_err());
    }

    #[test]
    fn state_and_sandbox_commands() {
        let cli = parse(&["state", "rm", "a.b", "c.d", "--state", "s.json"]).expect("parses");
        let Command::State(StateCommand::Rm(rm)) = cli.command else {
            unreachable!("not state rm")
        };
        assert_eq!(rm.addresses, vec!["a.b", "c.d"]);
        assert_eq!(rm.location.state, Some(PathBuf::from("s.json")));
        assert!(parse(&["state", "rm"]).is_err());
        assert!(parse(&["state", "mv", "a.b"]).is_err());
        let cli = parse(&["sandbox", "set", "obj-1", "input=x", "n=2"]).expect("parses");
        let Command::Sandbox(SandboxCommand::Set(set)) = cli.command else {
            unreachable!("not sandbox set")
        };
        assert_eq!(set.id, "obj-1");
        assert_eq!(set.assignments.len(), 2);
        assert!(parse(&["sandbox", "set", "obj-1"]).is_err());
        assert!(parse(&["sandbox", "set", "obj-1", "novalue"]).is_err());
    }

    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str) {
            let subs: Vec<_> = cmd
                .get_subcommands()
                .filter(|c| c.get_name() != "help")
                .collect();
            if path != "ss" {
                let after = cmd
                    .get_after_help()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                assert!(after.starts_with("Examples:\n"), "{path}: no examples");
                assert!(after.matches("\n  ss ").count() >= 2, "{path}: <2 examples");
                assert!(cmd.get_long_about().is_some(), "{path}: no long about");
            }
            for sub in subs {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {}: no summary",
                    sub.get_name()
                );
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "ss");
    }

    #[test]
    fn top_level_help_lists_commands_and_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "validate",
            "fmt",
            "plan",
            "apply",
            "destroy",
            "diff",
            "show",
            "output",
            "state",
            "graph",
            "sandbox",
            "Exit codes:",
            "2  with --detailed-exitcode",
        ] {
            assert!(help.contains(needle), "missing {needle}:\n{help}");
        }
    }
}
