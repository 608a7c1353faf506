#!/usr/bin/env bash
# Annotate a corpus as a Slurm job array: 8 tasks, each `annotate --shard I/8`
# into one shared output folder; a job that depends on the array merges the
# shard indexes into index.json.
#   sbatch examples/cluster/slurm-annotate.sh /data/interviews /data/annotations
#SBATCH --job-name=emoscope-annotate
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=emoscope-%A_%a.log
set -euo pipefail
corpus=${1:?usage: sbatch slurm-annotate.sh CORPUS_DIR OUT_DIR}
out=${2:?usage: sbatch slurm-annotate.sh CORPUS_DIR OUT_DIR}
shards=$((SLURM_ARRAY_TASK_MAX + 1))
emoscope annotate "$corpus" --out "$out" --format all \
    --shard "${SLURM_ARRAY_TASK_ID}/${shards}"
# Task 0 queues the merge, to run once every task of the array has succeeded.
if [ "$SLURM_ARRAY_TASK_ID" -eq 0 ] && command -v sbatch >/dev/null; then
    sbatch --dependency="afterok:${SLURM_ARRAY_JOB_ID}" --job-name=emoscope-merge \
        --wrap "emoscope merge '$out'"
fi
