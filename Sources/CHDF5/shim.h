#ifndef EVENTDISTILL_CHDF5_SHIM_H
#define EVENTDISTILL_CHDF5_SHIM_H
#include <hdf5.h>

/* Swift 6 refuses HDF5's macros that expand to mutable C globals (H5T_NATIVE_*_g, H5P_CLS_*_g)
   or to calls (H5F_ACC_*): expose each one we use as a function. */
static inline hid_t evd_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t evd_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t evd_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t evd_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t evd_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t evd_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t evd_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t evd_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t evd_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t evd_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t evd_c_s1(void) { return H5T_C_S1; }

static inline unsigned evd_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned evd_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned evd_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned evd_acc_excl(void) { return H5F_ACC_EXCL; }

static inline hid_t evd_plist_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t evd_plist_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t evd_plist_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t evd_plist_dataset_access(void) { return H5P_DATASET_ACCESS; }

static inline hsize_t evd_unlimited(void) { return H5S_UNLIMITED; }
#endif
