# axlectl.bash -- bash completion for axlectl: global options, commands,
# sub-commands, each command's options, and files where a file is asked for.
# `make install` puts it in $(PREFIX)/share/bash-completion/completions/axlectl
# (bash-completion loads it on first use); or `. gateway/ctl/axlectl.bash`.
# tests/integration/test_cli_tools.sh keeps it in step with axlectl: the
# commands of `axlectl help`, and every sub-command and option in
# gateway/ctl/*.c, must be offered here.

# Global options: those taking a value, then flags.
_axlectl_global_valued="-c --config --cert --key --trust --federation --server --timeout --sign-key --sign-cert"
_axlectl_global_flags="--json --help --version"
_axlectl_commands="info health cases audit registrar delegate resolve service
keys discover feed mirror region origins send fetch ack reject status outbox
mailbox help"
# Command options that take no value (all others take one).
_axlectl_flags="--json --overdue --all --payload --receipts --no-endpoint --seal --no-seal"

# The sub-commands of a command ("" when it has none).
_axlectl_subs()
{
	case $1 in
	cases) echo "list show claim release redirect return discard escalate annotate" ;;
	audit) echo "verify export" ;;
	registrar) echo "add show list suspend activate revoke rehome policy" ;;
	service) echo "publish withdraw" ;;
	keys) echo "publish withdraw find" ;;
	feed) echo "show verify" ;;
	mirror) echo "reset" ;;
	region) echo "publish split" ;;
	esac
}

# The options of "command sub-command".
_axlectl_opts()
{
	case "$1 $2" in
	"cases list") echo "--state --reason --overdue --min-age --assignee --all" \
	    "--page-size --page-token --json" ;;
	"cases show") echo "--payload --reason --json" ;;
	"cases "*) echo "--reason --json" ;;
	"audit verify") echo "--json" ;;
	"audit export") echo "--from --to --page-size" ;;
	"registrar add" | "delegate "*) echo "--name --cert --contact" ;;
	"registrar list") echo "--prefix --status --region" ;;
	"registrar suspend" | "registrar activate" | "registrar revoke")
		echo "--reason --version" ;;
	"registrar rehome") echo "--reason --prefix" ;;
	"registrar policy") echo "--sealed --sealed-type --reason" ;;
	"service publish") echo "--kind --address --type --purpose --description --endpoint" ;;
	"service withdraw" | "mirror reset" | "reject "*) echo "--reason" ;;
	"keys publish") echo "--use --scope --registrar" ;;
	"keys withdraw") echo "--reason --registrar" ;;
	"keys find") echo "--use --pem-out" ;;
	"discover "*) echo "--prefix --kind --type --text --purpose --page-size --page-token" ;;
	"feed show") echo "--from" ;;
	"region publish") echo "--endpoint --no-endpoint --name" ;;
	"region split") echo "--endpoint --no-endpoint --name --dry-run --reason" ;;
	"send "*) echo "--to --to-group --from --type --purpose --context --payload-file" \
	    "--content-type --deliver-by-ms --reply-by-ms --policy --id" \
	    "--seal-to --seal --no-seal --no-sign" ;;
	"fetch "*) echo "--max --wait-ms --mailbox --visibility-ms --save --receipts" \
	    "--seal-key --seal-cert --signer-cert" ;;
	"ack "*) echo "--all --mailbox" ;;
	esac
}

_axlectl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd="" cmd_i=0 sub="" subs="" i w

	COMPREPLY=()
	# Find the command and its sub-command among the words before this one,
	# skipping the global options (and their values) before the command.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			case " $_axlectl_global_valued " in
			*" $w "*) ((i++)); continue ;;
			esac
			case $w in
			-*) continue ;;
			esac
			cmd=$w cmd_i=$i
			subs=$(_axlectl_subs "$cmd")
		elif [[ -n $subs && -z $sub && $w != -* ]]; then
			sub=$w
		fi
	done

	if [[ -z $cmd ]]; then
		case $prev in
		-c | --config | --cert | --key | --sign-key | --sign-cert)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return ;;
		--trust)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
			return ;;
		--federation | --server | --timeout)
			return ;;
		esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$_axlectl_global_valued \
			    $_axlectl_global_flags" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_axlectl_commands" -- "$cur")
		fi
		return
	fi

	# A value after a command option: files, the policies, or nothing to offer.
	if ((COMP_CWORD - 1 > cmd_i)) && [[ $prev == --* &&
	    " $_axlectl_flags " != *" $prev "* ]]; then
		case $prev in
		--payload-file | --seal-to | --seal-key | --seal-cert)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
		--save | --pem-out)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
		--policy)
			mapfile -t COMPREPLY < <(compgen -W "escalate return discard" -- "$cur") ;;
		# Enum values by their short names (the upper-case and full names
		# are taken too: docs/axlectl-json.md).
		--status)
			mapfile -t COMPREPLY < <(compgen -W "pending active suspended revoked" -- "$cur") ;;
		--state)
			mapfile -t COMPREPLY < <(compgen -W "open claimed resolved escalated all" -- "$cur") ;;
		--kind)
			mapfile -t COMPREPLY < <(compgen -W "portal switch index node" -- "$cur") ;;
		--use)
			mapfile -t COMPREPLY < <(compgen -W "signing sealing" -- "$cur") ;;
		esac
		return
	fi
	# keys publish CERT.pem: a certificate file.
	if [[ $cmd == keys && $sub == publish && $cur != -* ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
	fi
	if [[ -n $subs && -z $sub && $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
		return
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_axlectl_opts "$cmd" "$sub")" -- "$cur")
	fi
}

complete -F _axlectl axlectl
