#!/usr/bin/env bash
# Help beyond --help: "did you mean" for mistyped commands, options and
# modules (exit 2 unchanged), and the bash and zsh completion and the man page
# generated from commands.def and options.def, checked against `modmig --help`
# and each command's help, so a row added later is covered without a word here.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BUILD=${MODMIG_BUILD_ROOT:-$ROOT/build}

# ---- did you mean -------------------------------------------------------------
mm stauts
expect_rc 2 "mistyped command"
expect_eq "$ERR" "modmig: unknown command 'stauts'
  did you mean 'status'?
  hint: run 'modmig --help'" "mistyped command: one suggestion line"
mm help lst
expect_rc 2 "help of a mistyped command"
expect_err "  did you mean 'list'?"
mm hepl
expect_err "  did you mean 'help'?"
mm xyzzy
expect_rc 2 "a word near no command"
expect_eq "$ERR" "modmig: unknown command 'xyzzy'
  hint: run 'modmig --help'" "no suggestion when nothing is near"
mm status --modle core
expect_rc 2 "mistyped command option"
expect_eq "$ERR" "modmig: unknown option '--modle'
  did you mean '--module'?
  hint: run 'modmig status --help'" "mistyped option of a command"
mm --jsno status
expect_rc 2 "mistyped global option"
expect_err "  did you mean '--json'?"
mm up --dryrun
expect_err "  did you mean '--dry-run'?"
# only the options the command takes are suggested: status has no --dry-run
mm status --dryrun
expect_rc 2
expect_no_err "did you mean"
mm -m modules/modules.yaml status --module biling
expect_rc 2 "mistyped module"
expect_err "unknown module 'biling'"
expect_err "hint: did you mean 'billing'? known modules: db, identity,"
mm -m modules/modules.yaml create stripee add_x
expect_rc 2 "mistyped module of create"
expect_err "did you mean 'stripe'?"

# ---- the tables, as --help shows them --------------------------------------------
COMMANDS=$("$MODMIG" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF && $1 != "help" {print $1}')
[ "$(echo "$COMMANDS" | wc -l)" -ge 15 ] && pass || fail "cannot read the commands of --help: $COMMANDS"
# a command's own options: the "Options:" block of its help
command_options() {
	"$MODMIG" "$1" --help | sed -n '/^Options:/,/^$/p' | grep -o -- '--[a-z][a-z-]*' | sort -u
}
GLOBALS=$("$MODMIG" --help | sed -n '/^Global options/,/^$/p' | grep -o -- '^ \{2,6\}\(-., \)\?--[a-z][a-z-]*' | grep -o -- '--[a-z-]*')
[ "$(echo "$GLOBALS" | wc -l)" -ge 10 ] && pass || fail "cannot read the global options: $GLOBALS"

# ---- bash completion -------------------------------------------------------------
run "$MODMIG" __complete bash
expect_rc 0 "__complete bash"
cmp -s "$TMP/.out" "$BUILD/modmig.bash" && pass || fail "build's modmig.bash differs from 'modmig __complete bash'"
complete_words() { # complete_words WORD... : what bash completes for the last word
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _modmig; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$BUILD/modmig.bash" "$@"
}
expect_eq "$(bash -c 'source "$1"; complete -p modmig' _ "$BUILD/modmig.bash")" "complete -F _modmig modmig" "complete -p"
got=$(complete_words modmig "" | sort); want=$( (echo "$COMMANDS"; echo help) | sort)
expect_eq "$got" "$want" "bash completes every command of --help"
expect_eq "$(complete_words modmig st | tr '\n' ' ')" "status stamp " "bash: modmig st<TAB>"
expect_eq "$(complete_words modmig -m x.yaml --json up --dr)" "--dry-run" "bash: the command is found after global options"
expect_eq "$(complete_words modmig help sq)" "sqlc-schemas" "bash: help COMMAND"
mkdir -p "$TMP/compl" && touch "$TMP/compl/modules.yaml"
expect_eq "$(complete_words modmig -m "$TMP/compl/mod")" "$TMP/compl/modules.yaml" "bash: -m completes a file"
for c in $COMMANDS; do
	got=$(complete_words modmig "$c" -- | grep -v '^$' | sort -u)
	want=$( (command_options "$c"; echo "$GLOBALS") | sort -u)
	expect_eq "$got" "$want" "bash: the options of $c"
done

# ---- zsh completion --------------------------------------------------------------
run "$MODMIG" __complete zsh
expect_rc 0 "__complete zsh"
cmp -s "$TMP/.out" "$BUILD/_modmig" && pass || fail "build's _modmig differs from 'modmig __complete zsh'"
expect_eq "$(head -1 "$BUILD/_modmig")" "#compdef modmig" "zsh: #compdef line"
for c in $COMMANDS; do
	summary=$("$MODMIG" --help | awk -v c="$c" '$1 == c {sub(/^ *[^ ]+ +/, ""); print; exit}')
	grep -qF "    '$c:$summary'" "$BUILD/_modmig" && pass || fail "zsh: command $c with its summary"
	# the command's own case lists each of its options
	body=$(sed -n "/^            $c)\$/,/;;\$/p" "$BUILD/_modmig")
	for o in $(command_options "$c"); do
		[[ "$body" == *"$o"* ]] && pass || fail "zsh: $c lacks $o"
	done
done
if command -v zsh >/dev/null; then
	zsh -n "$BUILD/_modmig" && pass || fail "zsh -n _modmig"
fi

# ---- the man page -----------------------------------------------------------------
run "$MODMIG" __man
expect_rc 0 "__man"
cmp -s "$TMP/.out" "$BUILD/modmig.1" && pass || fail "build's modmig.1 differs from 'modmig __man'"
if command -v man >/dev/null; then
	MANWIDTH=100 man -l "$BUILD/modmig.1" >"$TMP/man.txt" 2>"$TMP/man.err"
else
	groff -man -Tutf8 "$BUILD/modmig.1" 2>"$TMP/man.err" | col -b >"$TMP/man.txt"
fi
[ -s "$TMP/man.txt" ] && pass || fail "the man page renders"
[ ! -s "$TMP/man.err" ] && pass || fail "man warns: $(cat "$TMP/man.err")"
# man's hyphens may render as U+2010: compare in ASCII
sed -i 's/\xe2\x80\x90/-/g' "$TMP/man.txt"
grep -q '^NAME' "$TMP/man.txt" && grep -q '^SYNOPSIS' "$TMP/man.txt" && grep -q '^EXIT STATUS' "$TMP/man.txt" &&
	pass || fail "man sections"
for c in $COMMANDS help; do
	grep -q "^   $c\$" "$TMP/man.txt" && pass || fail "man: no section for $c"
done
for o in $GLOBALS; do
	grep -q -- "$o" "$TMP/man.txt" && pass || fail "man: global option $o"
done
# a description renders as --help prints it (words, not layout)
want=$("$MODMIG" verify --help | sed -n '3,4p' | tr -s ' \n' ' ')
got=$(sed -n '/^   verify$/,/^   doctor$/p' "$TMP/man.txt" | tr -s ' \n' ' ')
[[ "$got" == *"${want% }"* ]] && pass || fail "man: verify's description [$want]"

# ---- meson install puts them in the standard places -----------------------------
run meson install -C "$BUILD" --no-rebuild --destdir "$TMP/dest" --tags man,runtime
expect_rc 0 "meson install"
prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
for f in share/bash-completion/completions/modmig.bash share/zsh/site-functions/_modmig share/man/man1/modmig.1; do
	[ -s "$TMP/dest$prefix/$f" ] && pass || fail "not installed: $prefix/$f"
done

finish
