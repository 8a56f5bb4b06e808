/* dataset.c - a training and a test set from a folder of MNIST-style IDX
 * files (MNIST, Fashion-MNIST, KMNIST all use the same four names).
 *
 * Rules, for the user's benefit:
 *   - Each file may be plain or gzip: NAME is tried first, then NAME.gz (the
 *     plain file wins when both exist, since it is what `gunzip -k` leaves and
 *     needs no inflating).
 *   - Labels are optional; when a labels file is present its count must equal
 *     the images' count.
 *   - Without train-images but with t10k-images (this repository ships only
 *     the 10,000 Fashion-MNIST test images), the t10k set is split: the first
 *     9,000 images train and the rest test; below 10,000 images the first 90%
 *     (rounded down, at least one) train. split_from_test is then 1.
 *   - With train-images but no t10k-images the test set is empty (count 0).
 *   - Training and test images must have the same size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "io_internal.h"

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_FILES };
static const char *const file_names[N_FILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

/* See vae.h. */
void vae_dataset_free(vae_dataset *ds)
{
    if (!ds) return;
    vae_images_free(&ds->train);
    vae_images_free(&ds->test);
    ds->split_from_test = 0;
    ds->split_from_train = 0;
}

/* dir + "/" + name + suffix in a new string, or NULL when out of memory. */
static char *join_path(const char *dir, const char *name, const char *suffix)
{
    size_t a = strlen(dir), b = strlen(name), c = strlen(suffix);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + (size_t)slash + b + c + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b);
    memcpy(p + a + slash + b, suffix, c + 1);
    return p;
}

/* Whether something that is not a folder exists at path. Errors other than
 * "does not exist" count as existing, so that the read reports them. */
static int file_exists(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return errno != ENOENT && errno != ENOTDIR;
    return !S_ISDIR(st.st_mode);
}

/* Finds dir/name or dir/name.gz: 0 with *path set (or NULL when neither
 * exists), or VAE_ERR_NOMEM. */
static int find_file(const char *dir, const char *name, char **path)
{
    static const char *const suffixes[2] = {"", ".gz"};
    *path = NULL;
    for (int i = 0; i < 2; i++) {
        char *p = join_path(dir, name, suffixes[i]);
        if (!p) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory", dir);
        if (file_exists(p)) {
            *path = p;
            return 0;
        }
        free(p);
    }
    return 0;
}

/* Reads one set: images, and labels when labels_path is not NULL. */
static int load_set(const char *images_path, const char *labels_path, vae_images *out)
{
    int rc = vae_idx_read_images(images_path, out);
    if (rc || !labels_path) return rc;
    int count = 0;
    rc = vae_idx_read_labels(labels_path, &out->labels, &count);
    if (rc == 0 && count != out->count)
        rc = vae_fail(VAE_ERR_FORMAT, "%s: %d labels, but %s has %d images", labels_path, count,
                      images_path, out->count);
    if (rc) vae_images_free(out);
    return rc;
}

/* The number of training images when a t10k set of n images is split. */
static int split_point(int n)
{
    if (n >= 10000) return 9000;
    int n_train = (int)((long long)n * 9 / 10);
    return n_train > 0 ? n_train : n;
}

/* Loads the sets found in dir into ds (see the rules at the top). */
static int load_found(const char *dir, char *const *paths, vae_dataset *ds)
{
    int rc;
    if (paths[TRAIN_IMAGES]) {
        rc = load_set(paths[TRAIN_IMAGES], paths[TRAIN_LABELS], &ds->train);
        if (rc) return rc;
        if (!paths[TEST_IMAGES]) {
            ds->test.rows = ds->train.rows;
            ds->test.cols = ds->train.cols;
            ds->test.channels = ds->train.channels;
            return 0;
        }
        rc = load_set(paths[TEST_IMAGES], paths[TEST_LABELS], &ds->test);
        if (rc) return rc;
        if (ds->train.rows != ds->test.rows || ds->train.cols != ds->test.cols ||
            ds->train.channels != ds->test.channels)
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: training images are %dx%dx%d but test images are %dx%dx%d", dir,
                            ds->train.rows, ds->train.cols, ds->train.channels, ds->test.rows,
                            ds->test.cols, ds->test.channels);
        return 0;
    }
    vae_images all;
    rc = load_set(paths[TEST_IMAGES], paths[TEST_LABELS], &all);
    if (rc) return rc;
    rc = vae_io_images_split(&all, split_point(all.count), 0, &ds->train, &ds->test);
    vae_images_free(&all);
    if (rc == 0) ds->split_from_test = 1;
    return rc;
}

/* See vae.h and the rules at the top of this file. On failure ds is left
 * zeroed (nothing to free). */
int vae_dataset_load_mnist_dir(const char *dir, vae_dataset *ds)
{
    if (!dir || !ds) return vae_fail(VAE_ERR_ARG, "vae_dataset_load_mnist_dir: NULL argument");
    memset(ds, 0, sizeof *ds);
    struct stat st;
    if (stat(dir, &st) != 0) return vae_fail(VAE_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return vae_fail(VAE_ERR_IO, "%s: not a directory", dir);

    char *paths[N_FILES] = {NULL, NULL, NULL, NULL};
    int rc = 0;
    for (int i = 0; i < N_FILES && rc == 0; i++) rc = find_file(dir, file_names[i], &paths[i]);
    if (rc == 0 && !paths[TRAIN_IMAGES] && !paths[TEST_IMAGES])
        rc = vae_fail(VAE_ERR_IO,
                      "%s: no train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] found",
                      dir);
    if (rc == 0) rc = load_found(dir, paths, ds);
    for (int i = 0; i < N_FILES; i++) free(paths[i]);
    if (rc) vae_dataset_free(ds);
    return rc;
}

/* See io_internal.h. */
int vae_io_is_mnist_dir(const char *dir, int *is_mnist)
{
    *is_mnist = 0;
    for (int i = TRAIN_IMAGES; i <= TEST_IMAGES; i += TEST_IMAGES - TRAIN_IMAGES) {
        char *path;
        int rc = find_file(dir, file_names[i], &path);
        if (rc) return rc;
        if (path) *is_mnist = 1;
        free(path);
    }
    return 0;
}
