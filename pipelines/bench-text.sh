# pipelines/bench-text.sh: what bench-report and bench-vqa share (bash,
# sourced after lib.sh): options, the feature cache, one result file per
# model plus the most-frequent baseline's, and skipping what was done with
# the same settings. Each script sets kind (report or vqa) and calls
# text_main "$@".

text_usage() {
	if [ "$kind" = report ]; then cat <<EOF
Usage: $prog [OPTION]... -c CACHE (--annotation JSON | --captions CSV) -o DIR [UNIT...]
Report-generation benchmark: for each model of a feature cache, a light
encoder-decoder head (report-gen(1)) is trained on its frozen tile
embeddings, grouped into bags by slide, to write each slide's report;
BLEU-1..4, ROUGE-L and CIDEr-D of the test split, one file of result frames
per model (DIR/MODEL.mpk), and the most frequent training report's
(DIR/most-frequent.mpk).

Data:
  -c, --cache DIR         the feature cache: DIR/MODEL/UNIT.mpk (made by
                          extract-features)
  UNIT                    units of the cache (or inputs extract-features
                          takes: their unit); default: every unit
      --annotation JSON   R2Gen/HistGen annotation.json (train, val, test)
      --captions CSV      PatchGastricADC22 captions.csv (id,subtype,text)
      --splits CSV        with --captions: id,split rows
      --split R           with --captions: a seeded train:val:test split
EOF
	else cat <<EOF
Usage: $prog [OPTION]... -c CACHE --qa FILE -o DIR [UNIT...]
Visual question answering benchmark: for each model of a feature cache, a
light head (vqa-train(1)) is trained on its frozen embeddings (an image:
a bag of its tiles, or of one) and the question to answer it; closed
accuracy, open exact match and F1, and overall accuracy of the test split,
one file of result frames per model (DIR/MODEL.mpk), and the most frequent
training answer's (DIR/most-frequent.mpk).

Data:
  -c, --cache DIR         the feature cache: DIR/MODEL/UNIT.mpk (made by
                          extract-features)
  UNIT                    units of the cache (or inputs extract-features
                          takes: their unit); default: every unit
      --qa FILE           questions, JSON lines {image, question, answer,
                          split, type}, or WSI-VQA's JSON; repeatable
      --split R           a seeded train:val:test split of the images for
                          questions without one
EOF
	fi
	cat <<EOF
      --bag-by FIELD      group embeddings into bags by FIELD (e.g.
                          meta.region) instead of slide_id
Models:
  -m, --model NAME[=MODEL]  a model of the cache (repeatable; default: every
                          one); with =MODEL, units it lacks are extracted
      --extract-opts OPTS extract-features options (tiling, e.g. '--mpp 0.5')
Protocol:
      --seed S            the seed (0)
      --head-opts OPTS    further $1 options (e.g. '--epochs 20')
      --bootstrap N       bootstrap confidence intervals from N replicates
Output:
  -o, --output DIR        DIR/MODEL.mpk per model, DIR/most-frequent.mpk,
                          DIR/predictions/, DIR/logs/ (created)
  -t, --task NAME         the task name in the results (default: DIR's name)
      --redo              run models whose results are there again
  -j, --threads N         threads (1)
  -q, --quiet             only errors
  -h, --help              show this help and exit
  -V, --version           show the version and exit

A model whose DIR/MODEL.mpk was made with the same settings (options, the
text files' contents, the cache's model settings, its feature files) is
skipped; other settings redo it.
Exit status: 0 ok, 1 a model failed or bad input, 2 usage error.
See pathfm-bench-$kind(1), pathfm-make-text-sets(1), pathfm-pipelines(7).
EOF
}

text_main() {
	local prog_name=report-gen
	[ "$kind" = report ] || prog_name=vqa-train
	local cache="" out="" task="" annotation="" captions="" splits="" split=""
	local bag_by="" seed="" head_opts="" extract_opts="" boot="" redo=0 threads=1
	local -a models=() units=() qa=()
	eval "set -- $(split_eq "$@")"
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) text_usage "$prog_name"; exit 0 ;;
		-V | --version) show_version ;;
		-c | --cache) need "$@"; cache=$2; shift 2 ;;
		-o | --output) need "$@"; out=$2; shift 2 ;;
		-t | --task) need "$@"; task=$2; shift 2 ;;
		--split) need "$@"; split=$2; shift 2 ;;
		--bag-by) need "$@"
			[[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$ ]] ||
				usage_fail "--bag-by: a field such as meta.region, not '$2'"
			bag_by=$2; shift 2 ;;
		-m | --model) need "$@"; models+=("$2"); shift 2 ;;
		--extract-opts) need "$@"; extract_opts=$2; shift 2 ;;
		--seed) need "$@"; count_arg "$1" "$2"; seed=$2; shift 2 ;;
		--head-opts) need "$@"; head_opts=$2; shift 2 ;;
		--bootstrap) need "$@"; count_arg "$1" "$2"; boot=$2; shift 2 ;;
		--redo) redo=1; shift ;;
		-j | --threads) need "$@"; count_arg "$1" "$2"; threads=$2; shift 2 ;;
		-q | --quiet) quiet=1; shift ;;
		--annotation | --captions | --splits)
			[ "$kind" = report ] || usage_fail "unrecognized option '$1'"
			need "$@"
			case $1 in
			--annotation) annotation=$2 ;;
			--captions) captions=$2 ;;
			--splits) splits=$2 ;;
			esac
			shift 2 ;;
		--qa) [ "$kind" = vqa ] || usage_fail "unrecognized option '$1'"
			need "$@"; qa+=("$2"); shift 2 ;;
		--) shift; units+=("$@"); break ;;
		-?*) usage_fail "unrecognized option '$1'" ;;
		*) units+=("$1"); shift ;;
		esac
	done
	[ -n "$cache" ] || usage_fail "no feature cache: give -c DIR"
	[ -n "$out" ] || usage_fail "no output folder: give -o DIR"
	local -a texts=() topts=()
	if [ "$kind" = report ]; then
		if [ -n "$annotation" ] && [ -z "$captions" ]; then
			texts=("$annotation"); topts=(--annotation "$annotation")
		elif [ -n "$captions" ] && [ -z "$annotation" ]; then
			texts=("$captions"); topts=(--captions "$captions")
		else
			usage_fail "give one of --annotation and --captions"
		fi
		[ -z "$splits" ] || { [ -n "$captions" ] || usage_fail "--splits goes with --captions"
			texts+=("$splits"); topts+=(--splits "$splits"); }
	else
		[ ${#qa[@]} -gt 0 ] || usage_fail "no questions: give --qa FILE"
		local q
		for q in "${qa[@]}"; do texts+=("$q"); topts+=(--qa "$q"); done
	fi
	[ -z "$split" ] || topts+=(--split "$split")
	local f
	for f in "${texts[@]}"; do [ -r "$f" ] || die "$f: cannot read"; done
	require_programs "$prog_name" frame-cat jq
	[ -n "$task" ] || task=$(basename "$(abspath "$out")")
	check_name task "$task"

	# Extraction: models given as NAME=MODEL get the units they lack.
	local -a names=() emodels=() einputs=()
	local m u
	for m in "${models[@]}"; do
		if [[ $m == *=* ]]; then names+=("${m%%=*}"); emodels+=(-m "$m")
		else names+=("$m"); fi
	done
	for u in "${units[@]}"; do [ ! -e "$u" ] || einputs+=("$u"); done
	extract_lacking emodels einputs
	# Default: every model of the cache (a folder with its settings).
	[ ${#names[@]} -gt 0 ] || mapfile -t names < <(cache_models)
	[ ${#names[@]} -gt 0 ] || die "$cache: no model in the cache"

	mkdir -p "$out/logs" "$out/predictions"
	lock_dir "$out"
	rm -f "$out"/*.tmp.* "$out"/logs/*.tmp.* "$out"/predictions/*.tmp.* 2>/dev/null || true
	local settings="kind=$kind task=$task bag_by=$bag_by seed=$seed bootstrap=$boot"
	settings+=" head=$head_opts split=$split units=${units[*]} texts:"
	for f in "${texts[@]}"; do settings+=" $(basename "$f")=$(file_hash "$f")"; done

	local n ran=0 skipped=0 failed=() rc
	local -a files cmd
	for n in "${names[@]}"; do
		check_name model "$n"
		[ "$n" != most-frequent ] || die "model 'most-frequent': the name of the baseline; rename the model"
		[ -f "$cache/$n/settings" ] || die "$cache/$n: model '$n' is not in the cache"
		files=()
		if [ ${#units[@]} -gt 0 ]; then
			for u in "${units[@]}"; do
				[ ! -e "$u" ] || u=$(unit_of "$u")
				f=$cache/$n/$u.mpk
				[ -f "$f" ] || die "$f: '$u' has no features for model '$n' (extract it, or give -m $n=MODEL)"
				files+=("$f")
			done
		else
			for f in "$cache/$n"/*.mpk; do
				[ -f "$f" ] || die "$cache/$n: no features"
				files+=("$f")
			done
		fi
		local key="$settings cache-model: $(cat "$cache/$n/settings") features=$(
			stat -c '%n %s %Y' "${files[@]}" | sha256sum | cut -c1-64)"
		local res=$out/$n.mpk stamp=$out/logs/$n.settings
		if [ -f "$res" ] && [ -f "$out/most-frequent.mpk" ] && [ "$redo" = 0 ] &&
			[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
			skipped=$((skipped + 1))
			continue
		fi
		[ ! -f "$res" ] || [ "$redo" = 1 ] || say "$n: settings or features changed since $res was made"
		cmd=("$prog_name" "${topts[@]}" --task "$task" --model "$n" --emb "$n" -j "$threads"
			--baseline --log "$out/logs/$n.log.mpk" --predictions "$out/predictions/$n.jsonl")
		[ -z "$seed" ] || cmd+=(--seed "$seed")
		[ -z "$boot" ] || cmd+=(--bootstrap "$boot")
		# shellcheck disable=SC2206
		cmd+=($head_opts)
		say "$n: $prog_name"
		local all=$out/$n.all.tmp.$$
		set +e
		if [ -n "$bag_by" ]; then
			# A bag is every frame with the same FIELD: it becomes the slide_id.
			frame-cat -q --full "${files[@]}" |
				jq -c --arg f "$bag_by" 'getpath($f | split(".")) as $b
					| if $b == null then error("\(.slide_id) tile \(.tile_index): no \($f)") else .slide_id = ($b | tostring) end' |
				frame-cat -q -J | "${cmd[@]}" -q -o "$all" 2> "$out/logs/$n.err"
		else
			"${cmd[@]}" -q -o "$all" "${files[@]}" 2> "$out/logs/$n.err"
		fi
		rc=$?
		set -e
		if [ $rc -ne 0 ]; then
			sed "s/^/  /" "$out/logs/$n.err" >&2
			failed+=("$n")
			rm -f "$res" "$stamp" "$all"
			continue
		fi
		[ "$quiet" = 1 ] || sed "s/^/  /" "$out/logs/$n.err" >&2
		# The model's frames, and the baseline's (alike for every model: it
		# is the training split's commonest text, scored on the test split).
		frame-cat -q --full "$all" | jq -c 'select(.model != "most-frequent")' |
			frame-cat -q -J -o "$res.tmp.$$" && mv "$res.tmp.$$" "$res" &&
		frame-cat -q --full "$all" | jq -c 'select(.model == "most-frequent")' |
			frame-cat -q -J -o "$out/most-frequent.mpk.tmp.$$" &&
			mv "$out/most-frequent.mpk.tmp.$$" "$out/most-frequent.mpk" ||
			die "$all: cannot split the results"
		rm -f "$all"
		printf '%s\n' "$key" > "$stamp.tmp.$$" && mv "$stamp.tmp.$$" "$stamp"
		ran=$((ran + 1))
	done
	say "$task: ${#names[@]} models: $ran run, $skipped done before${failed:+, failed: ${failed[*]}}; results in $out/ (baseline: most-frequent.mpk)"
	[ ${#failed[@]} -eq 0 ] || exit 1
}
