/* The public header in a hostile translation unit (tests/abi/CMakeLists.txt): after the
 * macros that other headers leave behind (<windows.h>'s min and max, a C89 bool, common
 * lower-case words), included twice, in the language versions users still compile with
 * (C99, gnu17, C++98, C++20), with -Wall -Wextra -pedantic -Wundef -Wshadow -Werror. The
 * header promises C11 and C++11/17 (header_check.c); none of what it needs is newer than
 * C99 or C++98, and a parameter or member name must never meet a user's macro. */
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#ifndef __cplusplus
#  define bool int
#  define true 1
#  define false 0
#endif
#define read do_not_expand_read
#define size do_not_expand_size
#define data do_not_expand_data
#define name do_not_expand_name
#define out do_not_expand_out
#define value do_not_expand_value
#define status do_not_expand_status
#define model do_not_expand_model
#define layer do_not_expand_layer
#define rows do_not_expand_rows
#define n_cols do_not_expand_n_cols
#define user_data do_not_expand_user_data
#define reserved do_not_expand_reserved
#include <autoenc.h>
#include <autoenc.h>

int header_soup_check(void);
int header_soup_check(void)
{
    ae_param_description description;
    description.do_not_expand_size = sizeof description;
    return ae_param_describe(AE_PARAM_EPOCHS, &description) == AE_OK &&
           ae_version_number() == AE_VERSION_NUMBER && min(1, 2) == 1 && max(1, 2) == 2;
}
