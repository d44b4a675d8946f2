# bash completion for handrecctl: its commands, each command's options, files where a command takes
# them, and the hand names the running daemon has configured (asked with `handrecctl list`, on the
# session bus when --user is on the line). Needs no bash-completion helper functions.

_handrecctl_hands() {
        local user=""
        [[ " ${COMP_WORDS[*]} " == *" --user "* ]] && user=--user
        handrecctl $user list 2>/dev/null
        echo all
}

_handrecctl() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=""
        ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
        local commands="start stop record discard takes info status watch list devices preview snapshot check recover"
        local global="--user --json --version --help"
        local cmd="" i
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                -*) ;;
                *) cmd=${COMP_WORDS[i]}; break ;;
                esac
        done

        case $prev in
        --hand)
                mapfile -t COMPREPLY < <(compgen -W "$(_handrecctl_hands)" -- "$cur")
                return ;;
        --output)
                [[ $cmd == preview ]] && COMPREPLY=(-) || mapfile -t COMPREPLY < <(compgen -f -X '!*.jpg' -- "$cur"; compgen -d -- "$cur")
                return ;;
        --token-file)
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return ;;
        --task | --label | --duration | --quality | --listen | --allow-host | --fps | --max-width)
                return ;;
        esac

        if [[ -z $cmd ]]; then
                if [[ $cur == -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$global" -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
                fi
                return
        fi

        local opts="" files=""
        case $cmd in
        start) opts="--hand --task --duration --label --quality --follow --json" ;;
        stop) opts="--hand --json" ;;
        record) opts="--hand --task" ;;
        discard) opts="--last"; files=1 ;;
        takes) opts="--hand --json" ;;
        info) opts="--json"; files=1 ;;
        status) opts="--hand --json" ;;
        watch) opts="--hand" ;;
        list | devices) opts="--json" ;;
        preview) opts="--hand --listen --allow-host --token-file --fps --max-width --rectified --raw --guides --output" ;;
        snapshot) opts="--hand --output --rectified --raw --guides --max-width" ;;
        check | recover) files=1 ;;
        esac
        if [[ $cur == -* || -z $files ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$opts --help" -- "$cur")
        else
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -X '!*.h5' -- "$cur"; compgen -d -- "$cur")
        fi
}

complete -F _handrecctl handrecctl
