/*
 * Unit tests for files.c: atomic writes that skip unchanged bytes, apply
 * the mode, never follow a planted symlink, and careful credential reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "files.h"

static char dir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/certagent-files-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
write_plain(const char *path, const char *data, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
test_write_creates_file_with_mode(void **state)
{
	char p[300], err[256];
	struct stat st;

	(void)state;
	path_in(p, sizeof(p), "tok");
	assert_int_equal(files_write_atomic(p, "abc", 3, 0600, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_string_equal(slurp(p), "abc");
	assert_int_equal(count_entries(), 1);	/* no temp file left */
}

static void
test_unchanged_bytes_leave_the_file_untouched(void **state)
{
	char p[300], err[256];
	struct stat before, after;

	(void)state;
	path_in(p, sizeof(p), "same");
	assert_int_equal(files_write_atomic(p, "x\n", 2, 0640, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(stat(p, &before), 0);
	assert_int_equal(files_write_atomic(p, "x\n", 2, 0640, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_UNCHANGED);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

static void
test_changed_bytes_replace_the_file_by_rename(void **state)
{
	char p[300], err[256];
	struct stat before, after;

	(void)state;
	path_in(p, sizeof(p), "chg");
	write_plain(p, "old", 0644);
	assert_int_equal(stat(p, &before), 0);
	assert_int_equal(files_write_atomic(p, "new", 3, 0644, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(stat(p, &after), 0);
	assert_int_not_equal(before.st_ino, after.st_ino);	/* renamed in */
	assert_string_equal(slurp(p), "new");
}

static void
test_mode_change_alone_rewrites(void **state)
{
	char p[300], err[256];
	struct stat st;

	(void)state;
	path_in(p, sizeof(p), "mode");
	write_plain(p, "k", 0644);
	assert_int_equal(files_write_atomic(p, "k", 1, 0600, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_planted_symlink_is_replaced_not_followed(void **state)
{
	char p[300], victim[300], err[256];
	struct stat st;

	(void)state;
	path_in(victim, sizeof(victim), "victim");
	path_in(p, sizeof(p), "link");
	write_plain(victim, "precious", 0644);
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(files_write_atomic(p, "tok", 3, 0600, (uid_t)-1, (gid_t)-1,
					    err, sizeof(err)),
			 FILES_WRITTEN);
	assert_string_equal(slurp(victim), "precious");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
test_missing_directory_is_an_error_naming_the_path(void **state)
{
	char p[300], err[512];

	(void)state;
	path_in(p, sizeof(p), "nodir/file");
	assert_true(files_write_atomic(p, "a", 1, 0600, (uid_t)-1, (gid_t)-1, err,
				       sizeof(err)) < 0);
	assert_non_null(strstr(err, p));
}

static void
test_read_secret_trims_and_refuses_group_readable(void **state)
{
	char p[300], err[512], *s = NULL;

	(void)state;
	path_in(p, sizeof(p), "sid");
	write_plain(p, "s3cr3t-value\n", 0600);
	assert_int_equal(files_read_secret(p, 1024, 0, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "s3cr3t-value");
	secret_free(s);

	s = NULL;
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(files_read_secret(p, 1024, 0, &s, err, sizeof(err)), -EPERM);
	assert_null(s);
	assert_non_null(strstr(err, "0640"));
	assert_non_null(strstr(err, "allow_insecure_file_mode"));
	assert_null(strstr(err, "s3cr3t"));

	assert_int_equal(files_read_secret(p, 1024, 1, &s, err, sizeof(err)), 0);
	secret_free(s);
}

static void
test_read_secret_errors(void **state)
{
	char p[300], err[512], *s = NULL;

	(void)state;
	path_in(p, sizeof(p), "absent");
	assert_int_equal(files_read_secret(p, 1024, 0, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, p));

	path_in(p, sizeof(p), "empty");
	write_plain(p, "\n", 0600);
	assert_int_equal(files_read_secret(p, 1024, 0, &s, err, sizeof(err)), -ENODATA);

	path_in(p, sizeof(p), "big");
	write_plain(p, "0123456789abcdef", 0600);
	assert_int_equal(files_read_secret(p, 8, 0, &s, err, sizeof(err)), -EFBIG);
	assert_null(strstr(err, "0123456789"));
}

static void
test_set_stages_everything_before_any_rename(void **state)
{
	char a[300], b[300], bad[300], err[512];
	struct files_set *s = files_set_new();

	(void)state;
	path_in(a, sizeof(a), "cert.pem");
	path_in(b, sizeof(b), "key.pem");
	write_plain(a, "old-cert", 0644);
	write_plain(b, "old-key", 0600);
	assert_int_equal(files_set_add(s, a, "new-cert", 8, 0644, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(files_set_add(s, b, "new-key", 7, 0600, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	/* Staged, not yet visible. */
	assert_string_equal(slurp(a), "old-cert");
	assert_string_equal(slurp(b), "old-key");
	assert_int_equal(files_set_commit(s, err, sizeof(err)), 2);
	assert_string_equal(slurp(a), "new-cert");
	assert_string_equal(slurp(b), "new-key");
	assert_int_equal(files_set_count(s), 2);
	files_set_free(s);

	/* A file that cannot be staged leaves the others untouched. */
	s = files_set_new();
	path_in(bad, sizeof(bad), "missing-dir/key.pem");
	assert_int_equal(files_set_add(s, a, "newer-cert", 10, 0644, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_true(files_set_add(s, bad, "k", 1, 0600, (uid_t)-1, (gid_t)-1, 0,
				  err, sizeof(err)) < 0);
	files_set_free(s);	/* not committed: temps removed */
	assert_string_equal(slurp(a), "new-cert");
	assert_int_equal(count_entries(), 2);
}

static void
test_a_directory_in_a_set_is_refused_before_any_rename(void **state)
{
	char a[300], b[300], err[512];
	struct files_set *s = files_set_new();

	(void)state;
	path_in(a, sizeof(a), "cert.pem");
	path_in(b, sizeof(b), "key.pem");
	write_plain(a, "old-cert", 0644);
	assert_int_equal(mkdir(b, 0700), 0);
	/* Refused when staged, naming the path. */
	assert_int_equal(files_set_add(s, a, "new-cert", 8, 0644, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(files_set_add(s, b, "new-key", 7, 0600, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 -EISDIR);
	assert_non_null(strstr(err, b));
	assert_non_null(strstr(err, "is a directory"));
	files_set_free(s);
	assert_string_equal(slurp(a), "old-cert");

	/* And when it appears between staging and the commit. */
	assert_int_equal(rmdir(b), 0);
	s = files_set_new();
	assert_int_equal(files_set_add(s, a, "new-cert", 8, 0644, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(files_set_add(s, b, "new-key", 7, 0600, (uid_t)-1,
				       (gid_t)-1, 0, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(mkdir(b, 0700), 0);
	assert_int_equal(files_set_commit(s, err, sizeof(err)), -EISDIR);
	assert_int_equal(files_set_count(s), 0);
	files_set_free(s);
	assert_string_equal(slurp(a), "old-cert");
	assert_int_equal(count_entries(), 2);	/* no temp file left */
}

static void
test_set_backup_keeps_the_previous_file(void **state)
{
	char a[300], bak[320], err[512];
	struct files_set *s = files_set_new();

	(void)state;
	path_in(a, sizeof(a), "c.pem");
	write_plain(a, "v1", 0644);
	assert_int_equal(files_set_add(s, a, "v2", 2, 0644, (uid_t)-1, (gid_t)-1,
				       1, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_equal(files_set_commit(s, err, sizeof(err)), 1);
	files_set_free(s);
	snprintf(bak, sizeof(bak), "%s.bak", a);
	assert_string_equal(slurp(a), "v2");
	assert_string_equal(slurp(bak), "v1");
}

static void
test_atomic_dir_swaps_the_whole_set(void **state)
{
	char d[300], p[600], first[256], err[512];
	const char *names[2] = { "tls.crt", "tls.key" };
	const char *v1[2] = { "cert-1", "key-1" }, *v2[2] = { "cert-2", "key-2" };
	size_t lens[2] = { 6, 5 };
	unsigned modes[2] = { 0644, 0600 };
	struct stat st;
	ssize_t n;

	(void)state;
	path_in(d, sizeof(d), "atomic");
	assert_int_equal(files_write_atomic_dir(d, 2, names, v1, lens, modes,
						(uid_t)-1, (gid_t)-1, err, sizeof(err)),
			 FILES_WRITTEN);
	snprintf(p, sizeof(p), "%s/tls.crt", d);
	assert_string_equal(slurp(p), "cert-1");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(p, sizeof(p), "%s/..data", d);
	n = readlink(p, first, sizeof(first) - 1);
	assert_true(n > 2);
	first[n] = '\0';
	assert_int_equal(files_write_atomic_dir(d, 2, names, v1, lens, modes,
						(uid_t)-1, (gid_t)-1, err, sizeof(err)),
			 FILES_UNCHANGED);
	assert_int_equal(files_write_atomic_dir(d, 2, names, v2, lens, modes,
						(uid_t)-1, (gid_t)-1, err, sizeof(err)),
			 FILES_WRITTEN);
	snprintf(p, sizeof(p), "%s/tls.key", d);
	assert_string_equal(slurp(p), "key-2");
	snprintf(p, sizeof(p), "%s/%s", d, first);
	assert_int_not_equal(stat(p, &st), 0);	/* old version removed */
	snprintf(p, sizeof(p), "%s/..data/tls.key", d);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_stale_temps_of_a_killed_writer_are_removed(void **state)
{
	char p[300], t1[320], t2[320], other[320];

	(void)state;
	path_in(p, sizeof(p), "web.crt");
	snprintf(t1, sizeof(t1), "%s/.web.crt.tmp-0a0b0c0d0e0f", dir);
	snprintf(t2, sizeof(t2), "%s/.web.crt.tmp-111111111111", dir);
	snprintf(other, sizeof(other), "%s/.web.key.tmp-0a0b0c0d0e0f", dir);
	write_plain(t1, "half", 0600);
	write_plain(t2, "half", 0600);
	write_plain(other, "not mine", 0600);
	assert_int_equal(files_remove_stale_temps(p), 2);
	assert_int_equal(count_entries(), 1);	/* only the other file's temp */
}

static void
test_atomic_dir_removes_versions_a_killed_writer_left(void **state)
{
	char d[300], stale[400], err[512];
	const char *names[1] = { "tls.crt" }, *v[1] = { "c" };
	size_t lens[1] = { 1 };
	unsigned modes[1] = { 0644 };
	struct stat st;

	(void)state;
	path_in(d, sizeof(d), "vol");
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(stale, sizeof(stale), "%s/..2026_01_01_00_00_00.deadbeef", d);
	assert_int_equal(mkdir(stale, 0755), 0);
	assert_int_equal(files_write_atomic_dir(d, 1, names, v, lens, modes,
						(uid_t)-1, (gid_t)-1, err, sizeof(err)),
			 FILES_WRITTEN);
	assert_int_not_equal(stat(stale, &st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_creates_file_with_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_bytes_leave_the_file_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_bytes_replace_the_file_by_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_change_alone_rewrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink_is_replaced_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory_is_an_error_naming_the_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_secret_trims_and_refuses_group_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_secret_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_stages_everything_before_any_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_directory_in_a_set_is_refused_before_any_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_backup_keeps_the_previous_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_dir_swaps_the_whole_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps_of_a_killed_writer_are_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_dir_removes_versions_a_killed_writer_left, setup, teardown),
	};
	return cmocka_run_group_tests_name("files", tests, NULL, NULL);
}
