#!/bin/sh
# Assemble man/man1/embed.1 from man/src (the PREPROCESSING section is
# shared with common/preprocess.h's comment). Usage: sh tools/embed-man.sh
set -eu
cd "$(dirname "$0")/.."
cat man/src/embed.1.head man/src/embed-preprocessing.roff man/src/embed.1.tail \
	> man/man1/embed.1.tmp
mv man/man1/embed.1.tmp man/man1/embed.1
