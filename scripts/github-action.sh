#!/usr/bin/env bash
# The run step of citewatch's GitHub Action (action.yml), kept here so that the tests run it:
# check the documents with the database restored from the Actions cache, write every report
# and the index, print the annotations (GitHub reads them from standard output), add the
# index to the job summary and say what happened in the step's outputs.
#
# Inputs, as action.yml passes them (not CITEWATCH_*, which are citewatch's own settings):
#   INPUT_DOCUMENTS   files, folders and globs, separated by spaces (globs are citewatch's: ** works)
#   INPUT_DB          the database the cache keeps            (default .citewatch/citewatch.sqlite)
#   INPUT_EVIDENCE    the evidence folder the cache keeps     (default citewatch-evidence beside the database)
#   INPUT_REPORTS     where the reports go                    (default citewatch-reports)
#   INPUT_FAIL_ON     dead | new-dead | unverified | never    (default new-dead)
#   INPUT_NEW_ISSUES  Markdown of the problems first seen in this run, empty when none
#                     (default <reports>/new-issues.md)
set -uo pipefail

documents=${INPUT_DOCUMENTS:?"INPUT_DOCUMENTS: say which documents to check"}
db=${INPUT_DB:-.citewatch/citewatch.sqlite}
evidence=${INPUT_EVIDENCE:-$(dirname "$db")/citewatch-evidence}
reports=${INPUT_REPORTS:-citewatch-reports}
fail_on=${INPUT_FAIL_ON:-new-dead}
new_issues=${INPUT_NEW_ISSUES:-$reports/new-issues.md}

mkdir -p "$(dirname "$db")" "$reports" || exit 2
set -f  # the globs are citewatch's to expand, with ** and .gitignore
read -r -a paths <<< "$documents"
set +f

CITEWATCH_EVIDENCE_DIR=$evidence citewatch run "${paths[@]}" --db "$db" --reports "$reports" --format html,json,md,sarif,github \
    --new-issues "$new_issues" --fail-on "$fail_on"
status=$?

if [[ -n ${GITHUB_STEP_SUMMARY:-} && -f $reports/index.md ]]; then
    cat "$reports/index.md" >> "$GITHUB_STEP_SUMMARY"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    {
        echo "exit-code=$status"
        echo "reports=$reports"
        if [[ -s $new_issues ]]; then echo "new-issues=$new_issues"; else echo "new-issues="; fi
    } >> "$GITHUB_OUTPUT"
fi
exit "$status"
