#!/bin/sh
# Write man/man5/pathfm-frames.5 from man/src/*.head|tail and the schemas,
# so the man page and the schemas cannot drift apart. Needs jq.
set -eu
out=${1:-man/man5/pathfm-frames.5}
{
	cat man/src/pathfm-frames.5.head
	for t in tile embedding metric result prediction error eos; do
		jq -r --arg t "$t" '
		  def esc: gsub("\\\\"; "\\e") | gsub("^\\."; "\\&.") | gsub("-"; "\\-");
		  def kind: if .type then (if (.type|type)=="array" then .type|join(" or ") else .type end)
		            elif .const then "\"\(.const)\""
		            elif .enum then (.enum|map(tostring)|join(" | "))
		            elif ."$ref" == "tensor.json" then "tensor"
		            elif ."$ref" then "map of tensors" else "any" end
;
		  . as $s |
		  ".SS \($t)\n" + ($s.description|esc) + "\n" +
		  ([$s.properties | to_entries[] | .key as $k |
		    ".TP\n.B \(.key)\n" +
		    "(" + ((.value | if .contentEncoding then "binary" else kind end)) +
		    (if ($s.required|index($k)) then ", required" else "" end) + ") " +
		    (.value.description|esc)] | join("\n"))
		' "schemas/$t.json"
	done
	cat man/src/pathfm-frames.5.tail
} > "$out.tmp"
mv "$out.tmp" "$out"
