# pipelines/bench.sh: what the four benchmark scripts share (bash, sourced
# after lib.sh): options, the feature cache, extraction of what is missing,
# one result file per model, and skipping what was done with the same
# settings. Each script sets kind (wsi-cls, survival, roi-cls, retrieval)
# and calls bench_main "$@".

bench_usage() {
	local slide=0
	case $kind in wsi-cls | survival) slide=1 ;; esac
	case $kind in
	wsi-cls) cat <<EOF
Usage: $prog [OPTION]... -c CACHE -l LABELS -o DIR [SLIDE...]
Slide-level classification benchmark: for each model of a feature cache,
attention-MIL heads on its frozen tile embeddings (mil-train(1)) over folds
and runs, one file of result frames per model (DIR/MODEL.mpk).
EOF
	;;
	survival) cat <<EOF
Usage: $prog [OPTION]... -c CACHE -l LABELS -o DIR [SLIDE...]
Survival benchmark: for each model of a feature cache, attention-MIL heads
with the discrete-time survival loss on its frozen tile embeddings
(mil-train(1) --survival), c-index over folds and runs, one file of result
frames per model (DIR/MODEL.mpk).
EOF
	;;
	roi-cls) cat <<EOF
Usage: $prog [OPTION]... -c CACHE -o DIR --train SRC... --test SRC...
Tile-level (ROI) classification benchmark: for each model of a feature
cache, light heads on its frozen embeddings (probe(1)), one file of result
frames per model (DIR/MODEL.mpk).
EOF
	;;
	retrieval) cat <<EOF
Usage: $prog [OPTION]... -c CACHE -o DIR --train SRC... --test SRC...
Tile retrieval benchmark: for each model of a feature cache, every test
tile queries the training tiles by cosine similarity (probe(1) -m
retrieval): top-1, top-3, top-5 accuracy and majority vote at 5, one file of
result frames per model (DIR/MODEL.mpk).
EOF
	;;
	esac
	cat <<EOF

Data:
  -c, --cache DIR         the feature cache: DIR/MODEL/UNIT.mpk (made by
                          extract-features)
EOF
	if [ $slide = 1 ]; then cat <<EOF
  SLIDE                   slides to use (default: every unit of the cache);
                          with -m NAME=MODEL those missing are extracted
  -s, --slides LIST       the same from a wsi-tile slide list
EOF
	if [ "$kind" = wsi-cls ]; then cat <<EOF
  -l, --labels CSV        slide_id,label[,case_id] (required)
EOF
	else cat <<EOF
  -l, --labels CSV        slide_id,time,event[,case_id] (required)
      --bins N            survival time bins (mil-train's 4)
EOF
	fi
	cat <<EOF
      --splits CSV        fold,slide_id,split (train, val, test)
  -k, --folds K           stratified K-fold by case (default 5)
      --split A:B:C       one stratified train:val:test split by case
EOF
	else cat <<EOF
      --train SRC         training tiles: a unit of the cache, or an input
                          extract-features takes (unit: its name); repeatable
      --test SRC          test tiles; repeatable
      --val SRC           validation tiles (the linear head); repeatable
      --splits CSV        slide_id,split rows naming the units instead
                          (split: train, val or test)
  -l, --labels CSV        slide_id,label (default: each tile frame's label)
EOF
	fi
	cat <<EOF
      --classes LIST      the classes in order (comma-separated)
Models:
  -m, --model NAME[=MODEL]  a model of the cache (repeatable; default: every
                          one); with =MODEL, inputs it lacks are extracted
      --extract-opts OPTS extract-features options (tiling, e.g. '--mpp 0.5')
Protocol:
EOF
	case $kind in
	wsi-cls | survival) cat <<EOF
  -p, --protocol P        gpfm (default): mil-train -m abmil, GPFM's (CLAM's)
                          ABMIL; eva: mil-train -m eva, eva's ABMIL
      --runs N            seeded runs per fold (1)
      --seed S            the seed (0)
      --mil-opts OPTS     further mil-train options
      --predictions       also keep prediction frames, DIR/predictions/
EOF
	;;
	roi-cls) cat <<EOF
  -p, --protocol P        gpfm (default): probe -m logreg,knn (logistic
                          regression as UNI, kNN with k 20); eva: probe -m
                          linear (eva's AdamW linear head)
      --methods LIST      probe methods instead of the protocol's
      --runs N            linear head: seeded runs (1)
      --seed S            the seed (0)
      --probe-opts OPTS   further probe options
EOF
	;;
	retrieval) cat <<EOF
  -p, --protocol P        gpfm (the only one; eva has no retrieval task)
      --probe-opts OPTS   further probe options
EOF
	;;
	esac
	cat <<EOF
      --bootstrap N       bootstrap confidence intervals from N replicates
Output:
  -o, --output DIR        DIR/MODEL.mpk per model, DIR/logs/ (created)
  -t, --task NAME         the task name in the results (default: DIR's name)
      --redo              run models whose results are there again
  -j, --threads N         threads (1)
  -q, --quiet             only errors
  -h, --help              show this help and exit
  -V, --version           show the version and exit

A model whose DIR/MODEL.mpk was made with the same settings (options, CSV
contents, the cache's model settings) is skipped; other settings redo it.
Exit status: 0 ok, 1 a model failed or bad input, 2 usage error.
See pathfm-bench-$kind(1), pathfm-pipelines(7).
EOF
}

bench_main() {
	local cache="" out="" task="" labels="" splits="" folds="" split3=""
	local classes="" protocol=gpfm methods="" runs="" seed="" extra=""
	local extract_opts="" boot="" redo=0 threads=1 list="" bins="" preds=0
	local -a models=() train=() test=() val=() slides=()
	local slide=0
	case $kind in wsi-cls | survival) slide=1 ;; esac
	eval "set -- $(split_eq "$@")"
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) bench_usage; exit 0 ;;
		-V | --version) show_version ;;
		-c | --cache) need "$@"; cache=$2; shift 2 ;;
		-o | --output) need "$@"; out=$2; shift 2 ;;
		-t | --task) need "$@"; task=$2; shift 2 ;;
		-l | --labels) need "$@"; labels=$2; shift 2 ;;
		--splits) need "$@"; splits=$2; shift 2 ;;
		--classes) need "$@"; classes=$2; shift 2 ;;
		-m | --model) need "$@"; models+=("$2"); shift 2 ;;
		--extract-opts) need "$@"; extract_opts=$2; shift 2 ;;
		-p | --protocol) need "$@"; protocol=$2; shift 2 ;;
		--bootstrap) need "$@"; count_arg "$1" "$2"; boot=$2; shift 2 ;;
		--redo) redo=1; shift ;;
		-j | --threads) need "$@"; count_arg "$1" "$2"; threads=$2; shift 2 ;;
		-q | --quiet) quiet=1; shift ;;
		*)
			if [ $slide = 1 ]; then
				case $1 in
				-s | --slides) need "$@"; list=$2; shift 2; continue ;;
				-k | --folds) need "$@"; count_arg "$1" "$2"; folds=$2; shift 2; continue ;;
				--split) need "$@"; split3=$2; shift 2; continue ;;
				--bins) [ "$kind" = survival ] || usage_fail "unrecognized option '$1'"
					need "$@"; count_arg "$1" "$2"; bins=$2; shift 2; continue ;;
				--runs) need "$@"; count_arg "$1" "$2"; runs=$2; shift 2; continue ;;
				--seed) need "$@"; count_arg "$1" "$2"; seed=$2; shift 2; continue ;;
				--mil-opts) need "$@"; extra=$2; shift 2; continue ;;
				--predictions) preds=1; shift; continue ;;
				--) shift; slides+=("$@"); break ;;
				-?*) usage_fail "unrecognized option '$1'" ;;
				*) slides+=("$1"); shift; continue ;;
				esac
			fi
			case $1 in
			--train) need "$@"; train+=("$2"); shift 2 ;;
			--test) need "$@"; test+=("$2"); shift 2 ;;
			--val) need "$@"; val+=("$2"); shift 2 ;;
			--probe-opts) need "$@"; extra=$2; shift 2 ;;
			--methods | --runs | --seed)
				[ "$kind" = roi-cls ] || usage_fail "unrecognized option '$1'"
				need "$@"
				case $1 in
				--methods) methods=$2 ;;
				--runs) count_arg "$1" "$2"; runs=$2 ;;
				--seed) count_arg "$1" "$2"; seed=$2 ;;
				esac
				shift 2 ;;
			*) usage_fail "unrecognized option or argument '$1'" ;;
			esac
			;;
		esac
	done
	[ -n "$cache" ] || usage_fail "no feature cache: give -c DIR"
	[ -n "$out" ] || usage_fail "no output folder: give -o DIR"
	case $kind/$protocol in
	*/gpfm | wsi-cls/eva | survival/eva | roi-cls/eva) ;;
	retrieval/eva) usage_fail "--protocol: eva has no retrieval protocol; only gpfm" ;;
	*) usage_fail "--protocol: gpfm or eva, not '$protocol'" ;;
	esac
	if [ $slide = 1 ]; then
		[ -n "$labels" ] || usage_fail "no labels: give -l CSV"
		local nsplit=0
		[ -z "$splits" ] || nsplit=$((nsplit + 1))
		[ -z "$folds" ] || nsplit=$((nsplit + 1))
		[ -z "$split3" ] || nsplit=$((nsplit + 1))
		[ $nsplit -le 1 ] || usage_fail "give one of --splits, --folds and --split"
		[ $nsplit = 1 ] || folds=5
		require_programs mil-train
	else
		if [ -n "$splits" ]; then
			[ ${#train[@]} -eq 0 ] && [ ${#test[@]} -eq 0 ] && [ ${#val[@]} -eq 0 ] ||
				usage_fail "give --splits or --train/--test, not both"
			[ -r "$splits" ] || die "$splits: cannot read the splits file"
			local u s
			while IFS=$'\t' read -r u s; do
				case $s in
				train) train+=("$u") ;;
				test) test+=("$u") ;;
				val) val+=("$u") ;;
				*) die "$splits: split '$s' of '$u': train, val or test" ;;
				esac
			done < <(awk -F, -v f="$splits" '{ sub(/\r$/, "") } NR == 1 {
				for (i = 1; i <= NF; i++) { if ($i == "slide_id") a = i; if ($i == "split") b = i }
				if (!a || !b) { print f ": needs columns slide_id and split" > "/dev/stderr"; exit 1 }
				next } $0 != "" { print $a "\t" $b }' "$splits") ||
				die "$splits: bad splits file"
		fi
		[ ${#train[@]} -gt 0 ] || usage_fail "no training set: give --train SRC or --splits"
		[ ${#test[@]} -gt 0 ] || usage_fail "no test set: give --test SRC or --splits"
		require_programs probe
	fi
	for f in "$labels" "$splits" "$list"; do
		[ -z "$f" ] || [ -r "$f" ] || die "$f: cannot read"
	done
	[ -n "$task" ] || task=$(basename "$(abspath "$out")")
	check_name task "$task"

	# Extraction: models given as NAME=MODEL get what they lack.
	local -a names=() emodels=() einputs=()
	local m
	for m in "${models[@]}"; do
		if [[ $m == *=* ]]; then names+=("${m%%=*}"); emodels+=(-m "$m")
		else names+=("$m"); fi
	done
	if [ $slide = 1 ]; then
		einputs=("${slides[@]}")
		[ -z "$list" ] || einputs+=(-s "$list")
	else
		local src
		for src in "${train[@]}" "${test[@]}" "${val[@]}"; do
			[ -e "$src" ] && einputs+=("$src")
		done
	fi
	extract_lacking emodels einputs
	if [ ${#names[@]} -eq 0 ]; then
		mapfile -t names < <(cache_models)
		[ ${#names[@]} -gt 0 ] || die "$cache: no model in the cache"
	fi

	# The files of each set, per model: units of the cache.
	# A set's SRC: an input (its unit: the name) or a unit of the cache.
	unit_name() { if [ -e "$1" ]; then unit_of "$1"; else printf '%s\n' "$1"; fi; }
	unit_file() { printf '%s/%s/%s.mpk\n' "$cache" "$1" "$(unit_name "$2")"; }
	local -a slide_units=()
	if [ $slide = 1 ]; then
		local s
		for s in "${slides[@]}"; do slide_units+=("$(unit_of "$s")"); done
		if [ -n "$list" ]; then
			while IFS=$'\t' read -r s _; do slide_units+=("$s"); done < <(list_slides "$list")
		fi
	fi

	mkdir -p "$out/logs"
	lock_dir "$out"
	rm -f "$out"/*.tmp.* "$out"/logs/*.tmp.* "$out"/predictions/*.tmp.* 2>/dev/null || true
	local csvs="" f
	for f in "$labels" "$splits" "$list"; do
		[ -z "$f" ] || csvs+=" $(basename "$f")=$(file_hash "$f")"
	done
	local settings="kind=$kind task=$task protocol=$protocol methods=$methods"
	settings+=" runs=$runs seed=$seed folds=$folds split=$split3 bins=$bins"
	settings+=" classes=$classes bootstrap=$boot extra=$extra preds=$preds"
	local u set_units=""
	for u in "${train[@]}"; do set_units+=" train:$(unit_name "$u")"; done
	for u in "${test[@]}"; do set_units+=" test:$(unit_name "$u")"; done
	for u in "${val[@]}"; do set_units+=" val:$(unit_name "$u")"; done
	settings+=" units=$set_units"
	settings+=" slides=${slide_units[*]} csv:$csvs"

	local n ran=0 skipped=0 failed=()
	local -a cmd
	for n in "${names[@]}"; do
		check_name model "$n"
		[ -f "$cache/$n/settings" ] || die "$cache/$n: model '$n' is not in the cache"
		local key="$settings cache-model: $(cat "$cache/$n/settings")"
		local res=$out/$n.mpk stamp=$out/logs/$n.settings
		if [ $slide = 1 ]; then
			cmd=(mil-train -q -l "$labels" --task "$task" --model "$n" --emb "$n" -j "$threads")
			[ "$kind" = wsi-cls ] || cmd+=(--survival)
			[ -z "$bins" ] || cmd+=(--bins "$bins")
			if [ "$protocol" = eva ]; then cmd+=(-m eva); else cmd+=(-m abmil); fi
			[ -z "$splits" ] || cmd+=(--splits "$splits")
			[ -z "$folds" ] || cmd+=(-k "$folds")
			[ -z "$split3" ] || cmd+=(--split "$split3")
			[ -z "$runs" ] || cmd+=(--runs "$runs")
			[ -z "$seed" ] || cmd+=(--seed "$seed")
			[ -z "$classes" ] || cmd+=(--classes "$classes")
			[ -z "$boot" ] || cmd+=(--bootstrap "$boot")
			cmd+=(--log "$out/logs/$n.log.mpk")
			if [ "$preds" = 1 ]; then
				mkdir -p "$out/predictions"
				cmd+=(--predictions "$out/predictions/$n.mpk")
			fi
			# shellcheck disable=SC2206
			cmd+=($extra)
			if [ ${#slide_units[@]} -gt 0 ]; then
				local s
				for s in "${slide_units[@]}"; do
					f=$cache/$n/$s.mpk
					[ -f "$f" ] || die "$f: slide '$s' has no features for model '$n' (extract it, or give -m $n=MODEL)"
					cmd+=("$f")
				done
			else
				for f in "$cache/$n"/*.mpk; do
					[ -f "$f" ] || die "$cache/$n: no features"
					cmd+=("$f")
				done
			fi
		else
			cmd=(probe --task "$task" --model "$n" --emb "$n" -j "$threads")
			local ms=$methods
			if [ -z "$ms" ]; then
				case $kind/$protocol in
				retrieval/*) ms=retrieval ;;
				*/eva) ms=linear ;;
				*) ms=logreg,knn ;;
				esac
			fi
			cmd+=(-m "$ms")
			[ -z "$labels" ] || cmd+=(-l "$labels")
			[ -z "$runs" ] || cmd+=(--runs "$runs")
			[ -z "$seed" ] || cmd+=(--seed "$seed")
			[ -z "$classes" ] || cmd+=(--classes "$classes")
			[ -z "$boot" ] || cmd+=(--bootstrap "$boot")
			[[ $ms != *linear* ]] || cmd+=(--log "$out/logs/$n.log.mpk")
			# shellcheck disable=SC2206
			cmd+=($extra)
			local src flag
			for flag in train test val; do
				local -n arr=$flag
				for src in "${arr[@]}"; do
					f=$(unit_file "$n" "$src")
					[ -f "$f" ] || die "$f: '$src' has no features for model '$n' (extract it, or give -m $n=MODEL)"
					cmd+=("--$flag" "$f")
				done
				unset -n arr
			done
		fi
		# The feature files in use: results are redone when one changed.
		local ids
		ids=$(for f in "${cmd[@]}"; do
			case $f in "$cache"/*.mpk) stat -c '%n %s %Y' "$f" ;; esac
		done | sha256sum | cut -c1-64)
		key+=" features=$ids"
		if [ -f "$res" ] && [ "$redo" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
			skipped=$((skipped + 1))
			continue
		fi
		[ ! -f "$res" ] || [ "$redo" = 1 ] || say "$n: settings or features changed since $res was made"
		say "$n: ${cmd[0]} ($kind, $protocol protocol)"
		set +e
		"${cmd[@]}" -o "$res" 2> "$out/logs/$n.err"
		local rc=$?
		set -e
		if [ $rc -ne 0 ]; then
			sed "s/^/  /" "$out/logs/$n.err" >&2
			failed+=("$n")
			rm -f "$res" "$stamp"
			continue
		fi
		[ "$quiet" = 1 ] || sed "s/^/  /" "$out/logs/$n.err" >&2
		printf '%s\n' "$key" > "$stamp.tmp.$$" && mv "$stamp.tmp.$$" "$stamp"
		ran=$((ran + 1))
	done
	say "$task: ${#names[@]} models: $ran run, $skipped done before${failed:+, failed: ${failed[*]}}; results in $out/"
	[ ${#failed[@]} -eq 0 ] || exit 1
}
