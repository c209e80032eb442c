// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suites for the mlx5vf C++ core, driven only through the C ABI
 * (include/mlx5vf/abi.h), exactly as the kernel shim calls it.
 *
 * The migration path-finder is checked against an independent model written
 * here from the VFIO uAPI (include/uapi/linux/vfio.h, "migration state
 * machine"): the arcs a driver implements, the states each feature set
 * enables, and the rule that STOP_COPY and RESUMING are only ever targets.
 * For every (current, target) pair and every feature set the core must either
 * refuse with -EINVAL exactly when the uAPI does, or name a single arc that
 * starts a shortest path, so that following it reaches the target.
 *
 * Nothing here is specific to UML: the same file can be linked into
 * mlx5vf.ko when the kernel has CONFIG_KUNIT.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include <mlx5vf/abi.h>

#define NSTATES 8
#define MAX_HOPS 5
/* Stop reporting a case's mismatches after this many, with a summary. */
#define MAX_REPORTS 8

static const char *const state_names[NSTATES] = {
	[MLX5VF_MIG_ERROR] = "ERROR",
	[MLX5VF_MIG_STOP] = "STOP",
	[MLX5VF_MIG_RUNNING] = "RUNNING",
	[MLX5VF_MIG_STOP_COPY] = "STOP_COPY",
	[MLX5VF_MIG_RESUMING] = "RESUMING",
	[MLX5VF_MIG_RUNNING_P2P] = "RUNNING_P2P",
	[MLX5VF_MIG_PRE_COPY] = "PRE_COPY",
	[MLX5VF_MIG_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

static const char *sname(int s)
{
	return s >= 0 && s < NSTATES ? state_names[s] : "(out of range)";
}

#define F_SC MLX5VF_MIG_FEATURE_STOP_COPY
#define F_P2P MLX5VF_MIG_FEATURE_P2P
#define F_PRE MLX5VF_MIG_FEATURE_PRE_COPY
#define F_ALL (F_SC | F_P2P | F_PRE)

/* Every combination of the three uAPI feature bits, the invalid ones included. */
#define NFEATURE_SETS 8

/* ---- The model -------------------------------------------------------- */

/* Feature bits a device needs for a state to exist (0: never exists). */
static unsigned int model_state_needs(int s)
{
	switch (s) {
	case MLX5VF_MIG_STOP:
	case MLX5VF_MIG_RUNNING:
	case MLX5VF_MIG_STOP_COPY:
	case MLX5VF_MIG_RESUMING:
		return F_SC;
	case MLX5VF_MIG_RUNNING_P2P:
		return F_SC | F_P2P;
	case MLX5VF_MIG_PRE_COPY:
		return F_SC | F_PRE;
	case MLX5VF_MIG_PRE_COPY_P2P:
		return F_SC | F_PRE | F_P2P;
	default:
		return 0; /* ERROR and anything outside the enum */
	}
}

static bool model_supported(int s, unsigned int features)
{
	unsigned int needs = model_state_needs(s);

	return needs && (features & needs) == needs;
}

struct arc {
	enum mlx5vf_mig_state from, to;
};

/* The arcs of a device with P2P: quiescing passes through the P2P states. */
static const struct arc arcs_p2p[] = {
	{ MLX5VF_MIG_RUNNING, MLX5VF_MIG_RUNNING_P2P },
	{ MLX5VF_MIG_RUNNING_P2P, MLX5VF_MIG_RUNNING },
	{ MLX5VF_MIG_RUNNING_P2P, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_RUNNING_P2P },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_STOP_COPY },
	{ MLX5VF_MIG_STOP_COPY, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_RESUMING },
	{ MLX5VF_MIG_RESUMING, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_RUNNING, MLX5VF_MIG_PRE_COPY },
	{ MLX5VF_MIG_PRE_COPY, MLX5VF_MIG_RUNNING },
	{ MLX5VF_MIG_PRE_COPY, MLX5VF_MIG_PRE_COPY_P2P },
	{ MLX5VF_MIG_PRE_COPY_P2P, MLX5VF_MIG_PRE_COPY },
	{ MLX5VF_MIG_RUNNING_P2P, MLX5VF_MIG_PRE_COPY_P2P },
	{ MLX5VF_MIG_PRE_COPY_P2P, MLX5VF_MIG_RUNNING_P2P },
	{ MLX5VF_MIG_PRE_COPY_P2P, MLX5VF_MIG_STOP_COPY },
};

/* Without P2P the P2P states collapse into their neighbours. */
static const struct arc arcs_plain[] = {
	{ MLX5VF_MIG_RUNNING, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_RUNNING },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_STOP_COPY },
	{ MLX5VF_MIG_STOP_COPY, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_STOP, MLX5VF_MIG_RESUMING },
	{ MLX5VF_MIG_RESUMING, MLX5VF_MIG_STOP },
	{ MLX5VF_MIG_RUNNING, MLX5VF_MIG_PRE_COPY },
	{ MLX5VF_MIG_PRE_COPY, MLX5VF_MIG_RUNNING },
	{ MLX5VF_MIG_PRE_COPY, MLX5VF_MIG_STOP_COPY },
};

static bool model_arc(int from, int to, unsigned int features)
{
	const struct arc *arcs = features & F_P2P ? arcs_p2p : arcs_plain;
	size_t n = features & F_P2P ? ARRAY_SIZE(arcs_p2p) : ARRAY_SIZE(arcs_plain);
	size_t i;

	if (!model_supported(from, features) || !model_supported(to, features))
		return false;
	for (i = 0; i < n; i++)
		if (arcs[i].from == from && arcs[i].to == to)
			return true;
	return false;
}

static bool is_precopy(int s)
{
	return s == MLX5VF_MIG_PRE_COPY || s == MLX5VF_MIG_PRE_COPY_P2P;
}

/* STOP_COPY and RESUMING open data files: targets only, never stepping stones. */
static bool may_pass_through(int s)
{
	return s != MLX5VF_MIG_STOP_COPY && s != MLX5VF_MIG_RESUMING && s != MLX5VF_MIG_ERROR;
}

/* A request the uAPI refuses: a finished saving file cannot go back to precopy. */
static bool model_blocked(int cur, int target)
{
	return cur == MLX5VF_MIG_STOP_COPY && is_precopy(target);
}

/*
 * Arcs on a shortest path from cur to target (through pass-through states
 * only), or -1 when there is none. Bellman-Ford style relaxation: the graph
 * has 8 nodes.
 */
static int model_distance(int cur, int target, unsigned int features)
{
	int dist[NSTATES];
	int round, s, n;

	if (!model_supported(cur, features) || !model_supported(target, features))
		return -1;
	for (s = 0; s < NSTATES; s++)
		dist[s] = -1;
	dist[target] = 0;
	for (round = 0; round < NSTATES; round++) {
		for (s = 0; s < NSTATES; s++) {
			for (n = 0; n < NSTATES; n++) {
				if (dist[n] < 0 || !model_arc(s, n, features))
					continue;
				if (n != target && !may_pass_through(n))
					continue;
				if (dist[s] < 0 || dist[n] + 1 < dist[s])
					dist[s] = dist[n] + 1;
			}
		}
	}
	return dist[cur];
}

static bool model_refuses(int cur, int target, unsigned int features)
{
	return model_blocked(cur, target) || model_distance(cur, target, features) < 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static int core_next(int cur, int target, unsigned int features)
{
	return mlx5vf_core_next_mig_state(cur, target, features);
}

/* Counts a case's mismatches; true once the case should stop reporting. */
static bool too_many(struct kunit *test, int *reports)
{
	if (++*reports < MAX_REPORTS)
		return false;
	KUNIT_FAIL(test, "stopping after %d mismatches", MAX_REPORTS);
	return true;
}

/*
 * Follows the core from cur to target. Returns the number of arcs taken, or
 * a negative errno from the first step that failed; fills path[0..hops].
 * A step that is not a model arc or revisits a state ends the walk with
 * -ELOOP (never returned by the core itself).
 */
static int walk(int cur, int target, unsigned int features, int path[MAX_HOPS + 1])
{
	int hops = 0, s = cur, i;

	path[0] = cur;
	while (s != target) {
		int n = core_next(s, target, features);

		if (n < 0)
			return n;
		if (hops == MAX_HOPS || !model_arc(s, n, features))
			return -ELOOP;
		for (i = 0; i <= hops; i++)
			if (path[i] == n)
				return -ELOOP;
		path[++hops] = n;
		s = n;
	}
	return hops;
}

static void format_path(char *buf, size_t len, const int *path, int hops)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i <= hops && used < len; i++)
		used += scnprintf(buf + used, len - used, "%s%s", i ? " -> " : "", sname(path[i]));
}

/* ---- Suite: mlx5vf_core ------------------------------------------------- */

static void core_version_test(struct kunit *test)
{
	const char *v = mlx5vf_core_version();

	KUNIT_ASSERT_NOT_NULL(test, v);
	KUNIT_EXPECT_EQ(test, strncmp(v, "mlx5vf-core ", 12), 0);
	KUNIT_EXPECT_GT(test, strlen(v), (size_t)12);
	/* A constant string, the same on every call. */
	KUNIT_EXPECT_PTR_EQ(test, mlx5vf_core_version(), v);
}

/* The core's errors are the kernel's errno values; the shim converts by identity. */
static void core_errno_identity_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, (int)MLX5VF_EINVAL, EINVAL);
	KUNIT_EXPECT_EQ(test, (int)MLX5VF_ENOMEM, ENOMEM);
	KUNIT_EXPECT_EQ(test, (int)MLX5VF_EBUSY, EBUSY);
	KUNIT_EXPECT_EQ(test, (int)MLX5VF_EOPNOTSUPP, EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, core_next(MLX5VF_MIG_ERROR, MLX5VF_MIG_STOP, F_SC), -EINVAL);
}

static struct kunit_case core_cases[] = {
	KUNIT_CASE(core_version_test),
	KUNIT_CASE(core_errno_identity_test),
	{}
};

static struct kunit_suite core_suite = {
	.name = "mlx5vf_core",
	.test_cases = core_cases,
};

/* ---- Suite: mlx5vf_mig_state ------------------------------------------- */

/* core_next(s, s) is s for every state the features enable. */
static void next_state_identity_test(struct kunit *test)
{
	unsigned int f;
	int s;

	for (f = 0; f < NFEATURE_SETS; f++)
		for (s = 0; s < NSTATES; s++)
			if (model_supported(s, f))
				KUNIT_EXPECT_EQ_MSG(test, core_next(s, s, f), s, "%s features %#x",
						    sname(s), f);
}

/* ERROR, states the features do not enable and values outside the enum. */
static void next_state_unsupported_test(struct kunit *test)
{
	static const int out_of_range[] = { NSTATES, 9, 100, 255, -1 };
	unsigned int f;
	int s;
	size_t i;

	for (s = 0; s < NSTATES; s++) {
		KUNIT_EXPECT_EQ_MSG(test, core_next(MLX5VF_MIG_ERROR, s, F_ALL), -EINVAL,
				    "ERROR -> %s",
				    sname(s));
		KUNIT_EXPECT_EQ_MSG(test, core_next(s, MLX5VF_MIG_ERROR, F_ALL), -EINVAL,
				    "%s -> ERROR",
				    sname(s));
		/* No STOP_COPY feature: the device does not migrate at all. */
		for (f = 0; f < NFEATURE_SETS; f++)
			if (!(f & F_SC))
				KUNIT_EXPECT_EQ_MSG(test, core_next(s, MLX5VF_MIG_STOP, f), -EINVAL,
						    "%s -> STOP features %#x", sname(s), f);
	}
	KUNIT_EXPECT_EQ(test, core_next(MLX5VF_MIG_RUNNING, MLX5VF_MIG_RUNNING_P2P, F_SC), -EINVAL);
	KUNIT_EXPECT_EQ(test, core_next(MLX5VF_MIG_RUNNING_P2P, MLX5VF_MIG_RUNNING, F_SC), -EINVAL);
	KUNIT_EXPECT_EQ(test, core_next(MLX5VF_MIG_RUNNING, MLX5VF_MIG_PRE_COPY, F_SC | F_P2P),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, core_next(MLX5VF_MIG_RUNNING, MLX5VF_MIG_PRE_COPY_P2P, F_SC | F_PRE),
			-EINVAL);
	for (i = 0; i < ARRAY_SIZE(out_of_range); i++) {
		KUNIT_EXPECT_EQ_MSG(test, core_next(out_of_range[i], MLX5VF_MIG_STOP, F_ALL),
				    -EINVAL,
				    "cur %d", out_of_range[i]);
		KUNIT_EXPECT_EQ_MSG(test, core_next(MLX5VF_MIG_STOP, out_of_range[i], F_ALL),
				    -EINVAL,
				    "target %d", out_of_range[i]);
	}
}

/* -EINVAL exactly when the model refuses; any other result is a state. */
static void next_state_refusals_test(struct kunit *test)
{
	int reports = 0, cur, target, got;
	unsigned int f;

	for (f = 0; f < NFEATURE_SETS; f++) {
		for (cur = 0; cur < NSTATES; cur++) {
			for (target = 0; target < NSTATES; target++) {
				bool refuse = model_refuses(cur, target, f);

				got = core_next(cur, target, f);
				if (refuse ? got == -EINVAL : (got >= 0 && got < NSTATES))
					continue;
				KUNIT_FAIL(test, "%s -> %s features %#x: got %d, want %s",
					   sname(cur),
					   sname(target), f, got, refuse ? "-EINVAL" : "a state");
				if (too_many(test, &reports))
					return;
			}
		}
	}
}

/* Every answer is one arc of the uAPI state machine, never a data state in passing. */
static void next_state_single_arc_test(struct kunit *test)
{
	int reports = 0, cur, target, got;
	unsigned int f;

	for (f = 0; f < NFEATURE_SETS; f++) {
		for (cur = 0; cur < NSTATES; cur++) {
			for (target = 0; target < NSTATES; target++) {
				got = core_next(cur, target, f);
				if (got < 0 || cur == target)
					continue;
				if (model_arc(cur, got,
					      f) && (got == target || may_pass_through(got)))
					continue;
				KUNIT_FAIL(test,
					   "%s -> %s features %#x: %s is not a single arc on the way",
					   sname(cur), sname(target), f, sname(got));
				if (too_many(test, &reports))
					return;
			}
		}
	}
}

/* Following the answers reaches the target in at most MAX_HOPS arcs, by a shortest path. */
static void next_state_walk_reaches_target_test(struct kunit *test)
{
	int reports = 0, walked = 0, cur, target, hops, want;
	int path[MAX_HOPS + 1];
	char buf[128];
	unsigned int f;

	for (f = 0; f < NFEATURE_SETS; f++) {
		for (cur = 0; cur < NSTATES; cur++) {
			for (target = 0; target < NSTATES; target++) {
				if (model_refuses(cur, target, f))
					continue;
				want = model_distance(cur, target, f);
				hops = walk(cur, target, f, path);
				walked++;
				if (hops == want)
					continue;
				format_path(buf, sizeof(buf), path, hops < 0 ? 0 : hops);
				KUNIT_FAIL(test,
					   "%s -> %s features %#x: walk gave %d (%s), shortest is %d",
					   sname(cur), sname(target), f, hops, buf, want);
				if (too_many(test, &reports))
					return;
			}
		}
	}
	/*
	 * Sanity of the model itself: all pairs of the 4, 5, 5 and 7 states of
	 * the four migrating feature sets, less the 1 + 2 blocked requests.
	 */
	KUNIT_EXPECT_EQ(test, walked, 4 * 4 + 5 * 5 + 5 * 5 + 7 * 7 - 1 - 2);
}

struct pinned_path {
	unsigned int features;
	int hops;
	int path[MAX_HOPS + 1]; /* path[0] is the current state, path[hops] the target */
};

#define PIN(f, ...)                                                                  \
	{                                                                            \
		.features = (f), .path = { __VA_ARGS__ },                            \
		.hops = sizeof((int[]){ __VA_ARGS__ }) / sizeof(int) - 1,           \
	}

#define S(x) MLX5VF_MIG_##x

/* Paths the VFIO core takes (drivers/vfio/vfio_main.c, vfio_mig_get_next_state). */
static const struct pinned_path pinned_paths[] = {
	/* Quiescing with P2P stops in two steps; without it, in one arc. */
	PIN(F_SC | F_P2P, S(RUNNING), S(RUNNING_P2P), S(STOP), S(STOP_COPY)),
	PIN(F_ALL, S(RUNNING), S(RUNNING_P2P), S(STOP), S(STOP_COPY)),
	PIN(F_SC, S(RUNNING), S(STOP)),
	PIN(F_SC, S(RUNNING), S(STOP), S(STOP_COPY)),
	PIN(F_SC | F_PRE, S(STOP), S(RUNNING)),
	PIN(F_SC | F_P2P, S(RUNNING), S(RUNNING_P2P), S(STOP)),
	PIN(F_SC | F_P2P, S(STOP), S(RUNNING_P2P), S(RUNNING)),
	/* Precopy ends in STOP_COPY, through PRE_COPY_P2P when there is P2P. */
	PIN(F_ALL, S(PRE_COPY), S(PRE_COPY_P2P), S(STOP_COPY)),
	PIN(F_SC | F_PRE, S(PRE_COPY), S(STOP_COPY)),
	PIN(F_ALL, S(PRE_COPY_P2P), S(STOP_COPY)),
	PIN(F_SC | F_PRE, S(RUNNING), S(PRE_COPY)),
	PIN(F_ALL, S(RUNNING), S(RUNNING_P2P), S(PRE_COPY_P2P)),
	/* An abandoned precopy is left first. */
	PIN(F_ALL, S(PRE_COPY), S(RUNNING), S(RUNNING_P2P), S(STOP)),
	PIN(F_SC | F_PRE, S(PRE_COPY), S(RUNNING), S(STOP)),
	PIN(F_ALL, S(PRE_COPY), S(RUNNING), S(RUNNING_P2P)),
	PIN(F_ALL, S(PRE_COPY_P2P), S(RUNNING_P2P), S(RUNNING)),
	PIN(F_ALL, S(PRE_COPY_P2P), S(RUNNING_P2P), S(STOP), S(RESUMING)),
	/* Saving and resuming pivot on STOP. */
	PIN(F_SC, S(STOP_COPY), S(STOP), S(RESUMING)),
	PIN(F_SC, S(RESUMING), S(STOP), S(RUNNING)),
	PIN(F_SC | F_P2P, S(RESUMING), S(STOP), S(RUNNING_P2P), S(RUNNING)),
	PIN(F_ALL, S(STOP_COPY), S(STOP), S(RUNNING_P2P), S(RUNNING)),
	PIN(F_ALL, S(RESUMING), S(STOP), S(RUNNING_P2P), S(RUNNING), S(PRE_COPY)),
};

static void next_state_pinned_paths_test(struct kunit *test)
{
	char want[128], got[128];
	int path[MAX_HOPS + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pinned_paths); i++) {
		const struct pinned_path *p = &pinned_paths[i];
		int hops = walk(p->path[0], p->path[p->hops], p->features, path);

		format_path(want, sizeof(want), p->path, p->hops);
		format_path(got, sizeof(got), path, hops < 0 ? 0 : hops);
		KUNIT_EXPECT_EQ_MSG(test, hops, p->hops, "features %#x: want %s, got %s",
				    p->features,
				    want, got);
		if (hops == p->hops)
			KUNIT_EXPECT_MEMEQ_MSG(test, path, p->path, (hops + 1) * sizeof(int),
					       "features %#x: want %s, got %s", p->features, want,
					       got);
	}
}

/* A saving file that reached STOP_COPY cannot return to precopy. */
static void next_state_stop_copy_to_precopy_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, core_next(S(STOP_COPY), S(PRE_COPY), F_ALL), -EINVAL);
	KUNIT_EXPECT_EQ(test, core_next(S(STOP_COPY), S(PRE_COPY_P2P), F_ALL), -EINVAL);
	KUNIT_EXPECT_EQ(test, core_next(S(STOP_COPY), S(PRE_COPY), F_SC | F_PRE), -EINVAL);
	/* The same precopy states are reachable from STOP, so the refusal is the rule. */
	KUNIT_EXPECT_EQ(test, core_next(S(STOP), S(PRE_COPY), F_SC | F_PRE), S(RUNNING));
	KUNIT_EXPECT_EQ(test, core_next(S(STOP), S(PRE_COPY_P2P), F_ALL), S(RUNNING_P2P));
	/* Leaving STOP_COPY otherwise works. */
	KUNIT_EXPECT_EQ(test, core_next(S(STOP_COPY), S(RUNNING), F_ALL), S(STOP));
}

static struct kunit_case mig_state_cases[] = {
	KUNIT_CASE(next_state_identity_test),
	KUNIT_CASE(next_state_unsupported_test),
	KUNIT_CASE(next_state_refusals_test),
	KUNIT_CASE(next_state_single_arc_test),
	KUNIT_CASE(next_state_walk_reaches_target_test),
	KUNIT_CASE(next_state_pinned_paths_test),
	KUNIT_CASE(next_state_stop_copy_to_precopy_test),
	{}
};

static struct kunit_suite mig_state_suite = {
	.name = "mlx5vf_mig_state",
	.test_cases = mig_state_cases,
};

kunit_test_suites(&core_suite, &mig_state_suite);
