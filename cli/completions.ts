/**
 * `lab completions bash|zsh|fish`: shell completion scripts generated from
 * the `lab` program itself (commander's command tree: its commands,
 * options, option values and arguments), so they never fall behind the
 * commands. A `[lesson]` argument completes the course's lesson numbers and
 * ids (with titles where the shell shows descriptions); `file`/`path` values
 * complete file names.
 *
 * The scripts complete the installed `lab` command (`deno install -g -n lab
 * ...`); the lesson list is the course's when the script was generated (run
 * it again after a course update that adds lessons).
 *
 * @module
 */

import { Argument, type Command, type Option } from "@commander-js/extra-typings";
import { loadCourse } from "../course/manifest.ts";
import { defaultCourseRoot } from "../course/paths.ts";
import { UserError } from "./errors.ts";

/** The shells `lab completions` writes scripts for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@linkcode COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/** What a value (an option's or an argument's) completes to. */
export type ValueKind =
  | { readonly kind: "lesson" }
  | { readonly kind: "file" }
  | { readonly kind: "choices"; readonly choices: readonly string[] }
  | { readonly kind: "none" };

/** An option of a command, as the scripts need it. */
export interface OptionSpec {
  /** `--timeout` (every option of `lab` has a long form). */
  readonly long: string;
  /** `-v`, or `null`. */
  readonly short: string | null;
  /** What the help says. */
  readonly description: string;
  /** The value the option takes, or `null` for a flag. */
  readonly value: { readonly name: string; readonly completes: ValueKind } | null;
}

/** A positional argument of a command. */
export interface ArgumentSpec {
  /** Its name in the help, e.g. `lesson`. */
  readonly name: string;
  /** What it completes to. */
  readonly completes: ValueKind;
}

/** A command (or the program) as the scripts need it: a plain tree read off commander's. */
export interface CommandSpec {
  /** The command's name (`lab` for the program). */
  readonly name: string;
  /** Its one-line description. */
  readonly description: string;
  /** Its options, `--help` included. */
  readonly options: readonly OptionSpec[];
  /** Its positional arguments, in order. */
  readonly arguments: readonly ArgumentSpec[];
  /** Its subcommands. */
  readonly commands: readonly CommandSpec[];
}

/** A lesson as completion offers it: its number and its id, each described by its title. */
export interface LessonCompletion {
  /** `"1"` or `"mmio-window"`. */
  readonly value: string;
  /** The lesson's title. */
  readonly title: string;
}

/** What a value named `name` completes to (`lesson` → lessons, `file`/`path` → files). */
function valueKind(name: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length > 0) return { kind: "choices", choices };
  if (name === "lesson") return { kind: "lesson" };
  if (name === "file" || name === "path") return { kind: "file" };
  return { kind: "none" };
}

function optionSpec(option: Option): OptionSpec {
  const valueName = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    long: option.long ?? option.short!,
    short: option.long ? option.short ?? null : null,
    description: option.description,
    value: valueName
      ? { name: valueName, completes: valueKind(valueName, option.argChoices) }
      : null,
  };
}

const HELP_OPTION: OptionSpec = {
  long: "--help",
  short: "-h",
  description: "display help for command",
  value: null,
};

/**
 * Reads the command tree off a commander program.
 *
 * @param command The `lab` program (or one of its commands).
 * @returns The tree; the program also gets commander's `help [command]`.
 */
export function commandSpec(command: Command): CommandSpec {
  const commands = (command.commands as Command[]).map(commandSpec);
  if (commands.length > 0 && !commands.some((c) => c.name === "help")) {
    commands.push({
      name: "help",
      description: "display help for command",
      options: [],
      arguments: [{
        name: "command",
        completes: { kind: "choices", choices: commands.map((c) => c.name) },
      }],
      commands: [],
    });
  }
  return {
    name: command.name(),
    description: command.description(),
    options: [
      ...(command.options as readonly Option[]).filter((o) => !o.hidden).map(optionSpec),
      HELP_OPTION,
    ],
    arguments: command.registeredArguments.map((a) => ({
      name: a.name(),
      completes: valueKind(a.name(), a.argChoices),
    })),
    commands,
  };
}

/** Every command with the path of names leading to it (`[]` for the program). */
function* walk(
  spec: CommandSpec,
  path: readonly string[] = [],
): Generator<{ path: readonly string[]; spec: CommandSpec }> {
  yield { path, spec };
  for (const sub of spec.commands) yield* walk(sub, [...path, sub.name]);
}

/** `'text'` for sh-like shells: single quotes, with `'` written as `'\''`. */
function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The first sentence of a description, short enough for a completion menu. */
function short(description: string): string {
  const first = description.split(/(?<=[a-z)]): |; | \(/)[0];
  if (first.length <= 70) return first;
  return `${first.slice(0, first.lastIndexOf(" ", 68))} …`;
}

function header(shell: CompletionShell, version: string, how: string): string {
  return [
    `# ${shell} completion for lab (virtio-lab ${version}), generated by \`lab completions ${shell}\`.`,
    `# ${how}`,
    "# Lesson numbers and ids are the course's when this was generated: run it again after",
    "# a course update.",
  ].join("\n");
}

/**
 * The bash script: a `_lab` function registered with `complete -F`.
 *
 * @param spec The program's tree.
 * @param lessons The lessons to offer.
 * @param version The version printed in the header.
 */
export function bashScript(
  spec: CommandSpec,
  lessons: readonly LessonCompletion[],
  version: string,
): string {
  const all = [...walk(spec)];
  const key = (path: readonly string[]) => shQuote(path.join(" "));
  const cases = (body: (s: CommandSpec) => string | null) =>
    all.map(({ path, spec }) => {
      const b = body(spec);
      return b === null ? null : `    ${key(path)}) ${b} ;;`;
    }).filter((l) => l !== null).join("\n");
  const words = (list: readonly string[]) => shQuote(list.join(" "));
  const complete = (kind: ValueKind) => {
    switch (kind.kind) {
      case "lesson":
        return `COMPREPLY=($(compgen -W "$__lab_lessons" -- "$cur"))`;
      case "file":
        return `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`;
      case "choices":
        return `COMPREPLY=($(compgen -W ${words(kind.choices)} -- "$cur"))`;
      case "none":
        return "COMPREPLY=()";
    }
  };
  const valueOptions = (s: CommandSpec) =>
    s.options.filter((o) => o.value).flatMap((o) => [o.long, ...(o.short ? [o.short] : [])]);
  return `${
    header(
      "bash",
      version,
      "Load it: source <(lab completions bash), or save it as ~/.local/share/bash-completion/completions/lab",
    )
  }

__lab_lessons=${words(lessons.map((l) => l.value))}

# The subcommands of a command path ("" is lab itself).
__lab_subcommands() {
  case "$1" in
${cases((s) => s.commands.length ? `echo ${words(s.commands.map((c) => c.name))}` : null)}
  esac
}

# The options of a command path.
__lab_options() {
  case "$1" in
${cases((s) => `echo ${words(s.options.flatMap((o) => [o.long, ...(o.short ? [o.short] : [])]))}`)}
  esac
}

# The options of a command path that take a value.
__lab_value_options() {
  case "$1" in
${cases((s) => valueOptions(s).length ? `echo ${words(valueOptions(s))}` : null)}
  esac
}

# Completes the value of option $2 of command path $1.
__lab_option_value() {
  case "$1 $2" in
${
    all.flatMap(({ path, spec }) =>
      spec.options.filter((o) => o.value).flatMap((o) =>
        [o.long, ...(o.short ? [o.short] : [])].map((flag) =>
          `    ${shQuote(`${path.join(" ")} ${flag}`)}) ${complete(o.value!.completes)} ;;`
        )
      )
    ).join("\n")
  }
    *) COMPREPLY=() ;;
  esac
}

# Completes positional argument $2 (from 0) of command path $1.
__lab_argument() {
  case "$1 $2" in
${
    all.flatMap(({ path, spec }) =>
      spec.arguments.map((a, i) =>
        `    ${shQuote(`${path.join(" ")} ${i}`)}) ${complete(a.completes)} ;;`
      )
    ).join("\n")
  }
    *) COMPREPLY=() ;;
  esac
}

_lab() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" subs w i n=0 skip=0
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # Walk the words before the cursor: subcommands extend the path, the rest count as
  # arguments (except an option's value).
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case " $(__lab_value_options "$path") " in *" $w "*) skip=1; continue ;; esac
    case "$w" in -*) continue ;; esac
    subs=" $(__lab_subcommands "$path") "
    if [ "$n" = 0 ] && [[ "$subs" == *" $w "* ]]; then
      path="\${path:+$path }$w"
    else
      n=$((n + 1))
    fi
  done
  if [ "$skip" = 1 ]; then
    __lab_option_value "$path" "$prev"
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__lab_options "$path")" -- "$cur"))
    return 0
  fi
  subs="$(__lab_subcommands "$path")"
  if [ -n "$subs" ] && [ "$n" = 0 ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  __lab_argument "$path" "$n"
  return 0
}

complete -F _lab lab
`;
}

/** Escapes text for an `_arguments` description in `[...]` inside single quotes. */
function zshBracket(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("[", "\\[").replaceAll("]", "\\]")
    .replaceAll("'", `'\\''`);
}

/** Escapes the name side of a `_describe` entry (`name:description`). */
function zshDescribe(name: string, description: string): string {
  return shQuote(`${name.replaceAll(":", "\\:")}:${description}`);
}

/**
 * The zsh script: `#compdef lab` functions built on `_arguments` and
 * `_describe`.
 *
 * @param spec The program's tree.
 * @param lessons The lessons to offer.
 * @param version The version printed in the header.
 */
export function zshScript(
  spec: CommandSpec,
  lessons: readonly LessonCompletion[],
  version: string,
): string {
  const fn = (path: readonly string[]) => ["_lab", ...path].join("_").replaceAll("-", "_");
  const action = (kind: ValueKind) => {
    switch (kind.kind) {
      case "lesson":
        return "_lab_lessons";
      case "file":
        return "_files";
      case "choices":
        return `(${kind.choices.join(" ")})`;
      case "none":
        return " ";
    }
  };
  const optionLines = (s: CommandSpec) =>
    s.options.map((o) => {
      const value = o.value ? `:${o.value.name}:${action(o.value.completes)}` : "";
      const help = `[${zshBracket(short(o.description))}]`;
      return o.short
        ? `'(${o.short} ${o.long})'{${o.short},${o.long}}'${help}${value}'`
        : `'${o.long}${help}${value}'`;
    });
  const functions = [...walk(spec)].map(({ path, spec: s }) => {
    if (s.commands.length === 0) {
      const args = s.arguments.map((a, i) => `'${i + 1}:${a.name}:${action(a.completes)}'`);
      const lines = [...optionLines(s), ...args];
      return `${fn(path)}() {\n  _arguments -s \\\n    ${lines.join(" \\\n    ")}\n}`;
    }
    const entries = s.commands.map((c) => zshDescribe(c.name, short(c.description)));
    const dispatch = s.commands.map((c) => `    ${c.name}) ${fn([...path, c.name])} ;;`);
    return `${fn(path)}() {
  local curcontext="$curcontext" state line
  typeset -A opt_args
  _arguments -C \\
    ${[...optionLines(s), "'1: :->command'", "'*:: :->argument'"].join(" \\\n    ")}
  case $state in
    command)
      local -a commands
      commands=(
        ${entries.join("\n        ")}
      )
      _describe -t commands ${shQuote(`${["lab", ...path].join(" ")} command`)} commands
      ;;
    argument)
      curcontext="\${curcontext%:*:*}:lab-$words[1]:"
      case $words[1] in
    ${dispatch.join("\n    ")}
      esac
      ;;
  esac
}`;
  });
  return `#compdef lab
${
    header(
      "zsh",
      version,
      'Load it: save it as _lab in a folder of $fpath (then compinit), or eval "$(lab completions zsh)"',
    )
  }

_lab_lessons() {
  local -a lessons
  lessons=(
    ${lessons.map((l) => zshDescribe(l.value, l.title)).join("\n    ")}
  )
  _describe -t lessons lesson lessons
}

${functions.join("\n\n")}

if [ "$funcstack[1]" = "_lab" ]; then
  _lab "$@"
else
  compdef _lab lab
fi
`;
}

/** Quotes text for fish (single quotes; `\\` and `'` escaped). */
function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * The fish script: `complete -c lab` lines, one per command, option and
 * lesson, conditioned on the subcommands already typed.
 *
 * @param spec The program's tree.
 * @param lessons The lessons to offer.
 * @param version The version printed in the header.
 */
export function fishScript(
  spec: CommandSpec,
  lessons: readonly LessonCompletion[],
  version: string,
): string {
  const lines: string[] = [
    header("fish", version, "Load it: lab completions fish > ~/.config/fish/completions/lab.fish"),
    "",
    "complete -c lab -f",
    "",
    "# Whether the words typed so far (options aside) begin with the command path $argv.",
    "function __lab_at",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l path",
    "    for w in $words",
    "        string match -q -- '-*' $w; and continue",
    "        set -a path $w",
    "    end",
    "    # The path is the leading words that name commands; what follows are arguments.",
    "    test (count $path) -ge (count $argv); or return 1",
    "    for i in (seq (count $argv))",
    "        test $path[$i] = $argv[$i]; or return 1",
    "    end",
    "    return 0",
    "end",
    "",
    "# Whether nothing but options follows the command path $argv.",
    "function __lab_exactly",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l path",
    "    for w in $words",
    "        string match -q -- '-*' $w; and continue",
    "        set -a path $w",
    "    end",
    "    test (count $path) -eq (count $argv); or return 1",
    "    for i in (seq (count $argv))",
    "        test $path[$i] = $argv[$i]; or return 1",
    "    end",
    "end",
    "",
  ];
  const at = (path: readonly string[]) =>
    path.length === 0 ? "" : ` -n ${fishQuote(`__lab_at ${path.join(" ")}`)}`;
  const exactly = (path: readonly string[]) =>
    ` -n ${fishQuote(`__lab_exactly ${path.join(" ")}`.trimEnd())}`;
  for (const { path, spec: s } of walk(spec)) {
    lines.push(`# lab ${path.join(" ")}`.trimEnd());
    for (const c of s.commands) {
      lines.push(
        `complete -c lab${exactly(path)} -a ${fishQuote(c.name)} -d ${
          fishQuote(short(c.description))
        }`,
      );
    }
    for (const o of s.options) {
      const flags = `-l ${o.long.slice(2)}${o.short ? ` -s ${o.short.slice(1)}` : ""}`;
      let value = "";
      if (o.value) {
        const k = o.value.completes;
        value = k.kind === "file"
          ? " -r -F"
          : k.kind === "choices"
          ? ` -x -a ${fishQuote(k.choices.join(" "))}`
          : k.kind === "lesson"
          ? ` -x -a ${fishQuote(lessons.map((l) => l.value).join(" "))}`
          : " -x";
      }
      lines.push(
        `complete -c lab${path.length ? at(path) : exactly(path)} ${flags}${value} -d ${
          fishQuote(short(o.description))
        }`,
      );
    }
    // Positional arguments: lessons with their titles, files, or choices.
    if (s.commands.length === 0 && s.arguments.length > 0) {
      const first = s.arguments[0].completes;
      if (first.kind === "lesson") {
        for (const l of lessons) {
          lines.push(
            `complete -c lab${exactly(path)} -a ${fishQuote(l.value)} -d ${fishQuote(l.title)}`,
          );
        }
      } else if (first.kind === "file") {
        lines.push(`complete -c lab${exactly(path)} -F`);
      } else if (first.kind === "choices") {
        lines.push(`complete -c lab${exactly(path)} -a ${fishQuote(first.choices.join(" "))}`);
      }
    }
    lines.push("");
  }
  return lines.join("\n");
}

/**
 * The lessons completion offers: each lesson's number and id. An unreadable
 * course offers none (the commands still complete).
 */
export function courseLessons(): LessonCompletion[] {
  try {
    return loadCourse(defaultCourseRoot()).lessons.flatMap((l) => [
      { value: String(l.number), title: l.title },
      { value: l.id, title: l.title },
    ]);
  } catch {
    return [];
  }
}

/**
 * The completion script for a shell.
 *
 * @param shell `bash`, `zsh` or `fish`.
 * @param program The `lab` program.
 * @param lessons The lessons to offer.
 * @param version The version printed in the header.
 * @throws {UserError} For another shell.
 */
export function completionScript(
  shell: string,
  program: Command,
  lessons: readonly LessonCompletion[],
  version: string,
): string {
  const spec = commandSpec(program);
  switch (shell) {
    case "bash":
      return bashScript(spec, lessons, version);
    case "zsh":
      return zshScript(spec, lessons, version);
    case "fish":
      return fishScript(spec, lessons, version);
    default:
      throw new UserError(
        `No completions for "${shell}": give one of ${COMPLETION_SHELLS.join(", ")}`,
      );
  }
}

/**
 * Registers `lab completions SHELL`.
 *
 * @param program The `lab` command.
 * @param version The version the scripts' headers name.
 */
export function register(program: Command, version: string): void {
  program
    .command("completions")
    .description("print a shell completion script for lab: bash, zsh or fish")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .addHelpText(
      "after",
      "\nLoad it:\n" +
        "  bash  source <(lab completions bash)   (or save it in ~/.local/share/bash-completion/completions/lab)\n" +
        "  zsh   lab completions zsh > ~/.zfunc/_lab   (with ~/.zfunc in $fpath, before compinit)\n" +
        "  fish  lab completions fish > ~/.config/fish/completions/lab.fish",
    )
    .action((shell) => {
      console.log(completionScript(shell, program, courseLessons(), version).trimEnd());
    });
}
