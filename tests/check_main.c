/* check_main.c - runs every Check suite; `make check` builds and runs it.
 * Each tests/check_*.c file contributes one suite. */
#include <check.h>
#include <stdlib.h>

Suite *vae_gemm_suite(void);
Suite *vae_rng_suite(void);
Suite *vae_kernels_suite(void);
Suite *vae_model_suite(void);
Suite *vae_io_suite(void);
Suite *vae_cli_suite(void);
Suite *vae_eval_suite(void);
Suite *vae_cli_train_suite(void);
Suite *vae_cli_pictures_suite(void);

int main(void)
{
    SRunner *runner = srunner_create(vae_gemm_suite());
    srunner_add_suite(runner, vae_rng_suite());
    srunner_add_suite(runner, vae_kernels_suite());
    srunner_add_suite(runner, vae_model_suite());
    srunner_add_suite(runner, vae_io_suite());
    srunner_add_suite(runner, vae_cli_suite());
    srunner_add_suite(runner, vae_eval_suite());
    srunner_add_suite(runner, vae_cli_train_suite());
    srunner_add_suite(runner, vae_cli_pictures_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
