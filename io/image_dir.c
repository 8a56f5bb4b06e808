/* image_dir.c - data sets from folders of Netpbm images, so that a user
 * trains on pictures of their own, and vae_dataset_load, which tells an
 * image folder from an MNIST-format one.
 *
 * Rules, for the user's benefit:
 *   - The images are the files ending in .pgm, .ppm or .pnm (any case),
 *     not in sub-folders, not named with a leading '.', read in the byte
 *     order of their names (so the order, and the split below, does not
 *     depend on the file system or the locale).
 *   - All must have one size and channel count: grey (P2, P5) or RGB (P3, P6).
 *   - Without a test folder, every tenth image (the 10th, 20th, ... in name
 *     order) is held out for testing: spread over the names, so a folder
 *     sorted by class does not lose one whole class to the test set. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "io_internal.h"

/* ASCII lower case, independent of the locale. */
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Whether name ends in .pgm, .ppm or .pnm, ignoring case. */
static int is_netpbm_name(const char *name)
{
    static const char *const exts[3] = {".pgm", ".ppm", ".pnm"};
    size_t n = strlen(name);
    if (n <= 4 || name[0] == '.') return 0;
    for (int e = 0; e < 3; e++) {
        int match = 1;
        for (int i = 0; i < 4 && match; i++)
            match = lower((unsigned char)name[n - 4 + i]) == exts[e][i];
        if (match) return 1;
    }
    return 0;
}

/* dir + "/" + name in a new string, or NULL when out of memory. */
static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + (size_t)slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

/* qsort order of file names: strcmp, the byte order (no locale). */
static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Frees a list made by list_images. */
static void free_paths(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* Checks that dir exists and is a folder. */
static int check_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return vae_fail(VAE_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return vae_fail(VAE_ERR_IO, "%s: not a directory", dir);
    return 0;
}

/* The paths of the Netpbm files in dir, sorted by name. Entries that are
 * folders are skipped; anything else with a Netpbm name is listed, so that
 * reading it reports what is wrong (a dangling link, say). */
static int list_images(const char *dir, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return vae_fail(VAE_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    char **list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (!is_netpbm_name(e->d_name)) continue;
        char *path = join_path(dir, e->d_name);
        if (!path) {
            rc = vae_fail(VAE_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            free(path);
            continue;
        }
        if (count == cap) {
            size_t new_cap = cap ? 2 * cap : 64;
            char **p = realloc(list, new_cap * sizeof *p);
            if (!p) {
                free(path);
                rc = vae_fail(VAE_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            list = p;
            cap = new_cap;
        }
        list[count++] = path;
    }
    if (rc == 0 && errno != 0)
        rc = vae_fail(VAE_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    closedir(d);
    if (rc) {
        free_paths(list, count);
        return rc;
    }
    if (count > 1) qsort(list, count, sizeof *list, compare_strings);
    *paths = list;
    *n = count;
    return 0;
}

/* See vae.h. */
int vae_images_load_dir(const char *dir, vae_images *out)
{
    if (!dir || !out) return vae_fail(VAE_ERR_ARG, "vae_images_load_dir: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = check_dir(dir);
    if (rc) return rc;
    char **paths;
    size_t n;
    rc = list_images(dir, &paths, &n);
    if (rc) return rc;
    if (n == 0) {
        free(paths);
        return vae_fail(VAE_ERR_IO, "%s: no .pgm, .ppm or .pnm images found", dir);
    }
    vae_images all;
    memset(&all, 0, sizeof all);
    size_t capacity = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        vae_images one;
        rc = vae_pnm_read(paths[i], &one);
        if (rc == 0) rc = vae_io_images_append(&all, &capacity, &one, paths[0], paths[i]);
        vae_images_free(&one);
    }
    free_paths(paths, n);
    if (rc) {
        vae_images_free(&all);
        return rc;
    }
    /* Give back the room the doubling left over. */
    size_t bytes = (size_t)all.count * all.rows * all.cols * all.channels *
                   (all.values ? sizeof(float) : 1);
    void *p = realloc(all.values ? (void *)all.values : (void *)all.pixels, bytes);
    if (p && all.values) all.values = p;
    else if (p) all.pixels = p;
    *out = all;
    return 0;
}

/* The image folder case of vae_dataset_load. */
static int load_image_folders(const char *dir, const char *test_dir, vae_dataset *ds)
{
    vae_images all;
    int rc = vae_images_load_dir(dir, &all);
    if (rc) return rc;
    if (!test_dir) {
        rc = vae_io_images_split(&all, INT_MAX, 10, &ds->train, &ds->test);
        if (rc == 0) ds->split_from_train = 1;
        vae_images_free(&all);
        return rc;
    }
    ds->train = all;
    rc = vae_images_load_dir(test_dir, &ds->test);
    if (rc) return rc;
    const vae_images *a = &ds->train, *b = &ds->test;
    if (a->rows != b->rows || a->cols != b->cols || a->channels != b->channels)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: test images are %dx%d with %d channel%s, but the training images "
                        "of %s are %dx%d with %d",
                        test_dir, b->cols, b->rows, b->channels, b->channels == 1 ? "" : "s", dir,
                        a->cols, a->rows, a->channels);
    return 0;
}

/* See vae.h. On failure ds is left zeroed (nothing to free). */
int vae_dataset_load(const char *dir, const char *test_dir, vae_dataset *ds)
{
    if (!dir || !ds) return vae_fail(VAE_ERR_ARG, "vae_dataset_load: NULL argument");
    memset(ds, 0, sizeof *ds);
    int rc = check_dir(dir), is_mnist = 0;
    if (rc == 0) rc = vae_io_is_mnist_dir(dir, &is_mnist);
    if (rc) return rc;
    if (is_mnist) {
        if (test_dir)
            return vae_fail(VAE_ERR_ARG,
                            "%s: an MNIST-format folder brings its own test files; a separate "
                            "test folder is for image folders",
                            dir);
        return vae_dataset_load_mnist_dir(dir, ds);
    }
    char **paths;
    size_t n;
    rc = list_images(dir, &paths, &n);
    if (rc) return rc;
    free_paths(paths, n);
    if (n == 0)
        return vae_fail(VAE_ERR_IO,
                        "%s: no MNIST files (train-images-idx3-ubyte, t10k-images-idx3-ubyte, "
                        "plain or .gz) and no .pgm, .ppm or .pnm images found",
                        dir);
    rc = load_image_folders(dir, test_dir, ds);
    if (rc) vae_dataset_free(ds);
    return rc;
}
